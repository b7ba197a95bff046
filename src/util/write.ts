/** One line to a stream (stdout, stderr, a board's output): the only way mam prints. */
export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  stream.write(`${line}\n`);
}
