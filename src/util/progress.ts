import { writeLine } from './write.js';

/**
 * One live line for a long wait (the stop ladder, an agent's prompt, a pane spawn, `job wait`): what is happening
 * and for how long, redrawn in place on a terminal and gone when the wait ends. The operations only name their
 * stage (`LifecycleContext.progress`); this module alone knows about terminals. When stderr is not a terminal
 * (piped, a log file, a test) nothing extra is written at all: no `\r`, no escapes, no stage lines.
 */
export interface ProgressLine {
  /** Shows `text` as the current stage; the elapsed time counts from the first stage since the last clear. */
  stage(text: string): void;
  /** A whole line for the record (what `say` prints), written above the live line, which is redrawn under it. */
  say(line: string): void;
  /** `line` on another stream that shares the terminal (stdout): the live line steps aside for it the same way. */
  print(stream: NodeJS.WritableStream, line: string): void;
  /** Removes the live line; the next stage starts a new clock. */
  clear(): void;
}

/** Braille spinner frames, one per redraw. */
export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** Redraws per second while a stage is shown: enough for the seconds and the spinner to move. */
const REDRAW_MS = 200;

/** Carriage return and erase to the end of the line: the start of every redraw and of the final clear. */
export const CLEAR_LINE = '\r\x1b[K';

/** `4 s`, `1 m 05 s`: whole seconds, as a person counts a wait. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} m ${String(seconds % 60).padStart(2, '0')} s`;
}

/**
 * The text of one redraw: spinner, stage, elapsed time; the elapsed time dimmed unless colour is off (NO_COLOR).
 * Cut to `columns - 1` characters, because a line that wraps can no longer be redrawn in place with `\r`.
 */
export function formatProgress(text: string, elapsedMs: number, frame: number, options: { readonly colour: boolean; readonly columns?: number | undefined }): string {
  const spinner = SPINNER[((frame % SPINNER.length) + SPINNER.length) % SPINNER.length]!;
  const elapsed = formatElapsed(elapsedMs);
  const oneLine = text.replace(/\s+/g, ' ').trim();
  const room = (options.columns ?? 80) - 1 - (spinner.length + 1) - (elapsed.length + 3);
  const shown = room <= 1 ? '' : [...oneLine].length > room ? `${[...oneLine].slice(0, room - 1).join('')}…` : oneLine;
  const time = options.colour ? `\x1b[2m(${elapsed})\x1b[22m` : `(${elapsed})`;
  return `${CLEAR_LINE}${spinner} ${shown} ${time}`;
}

/** Whether colour may be used: NO_COLOR (any non-empty value, no-color.org) turns it off. */
export function colourAllowed(env: NodeJS.ProcessEnv): boolean {
  return !env['NO_COLOR'];
}

/** A live line on `stream` when it is a terminal (and TERM is not `dumb`); otherwise one that only passes `say` on. */
export function progressLine(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv, now: () => number = Date.now): ProgressLine {
  const tty = stream as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  if (tty.isTTY !== true || env['TERM'] === 'dumb') {
    return { stage: () => undefined, say: (line) => writeLine(stream, line), print: (other, line) => writeLine(other, line), clear: () => undefined };
  }
  const colour = colourAllowed(env);
  let text: string | undefined;
  let since = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    if (text === undefined) return;
    stream.write(formatProgress(text, now() - since, frame++, { colour, columns: tty.columns }));
  };
  const erase = (): void => {
    if (text !== undefined) stream.write(CLEAR_LINE);
  };
  return {
    stage(next) {
      if (text === undefined) since = now();
      text = next;
      draw();
      // Unref'd: a live line never keeps the process alive after the work is done.
      timer ??= setInterval(draw, REDRAW_MS).unref();
    },
    say(line) {
      this.print(stream, line);
    },
    print(other, line) {
      erase();
      writeLine(other, line);
      draw();
    },
    clear() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      erase();
      text = undefined;
    },
  };
}
