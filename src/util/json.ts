/** JSON.parse that answers undefined for anything unparseable: for files and replies we do not own. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
