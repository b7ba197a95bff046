import { setTimeout as sleep } from 'node:timers/promises';
import { ENTER_SCREEN, frame, LEAVE_SCREEN } from './terminal.js';

/**
 * `mam status --watch` on a terminal: the alternate screen with the cursor hidden, one whole frame per redraw
 * (terminal.ts `frame`), a redraw at once when the terminal is resized, and the screen and cursor given back
 * however it ends — Ctrl-C, SIGTERM, an error while reading the registry.
 */
export interface TerminalStream extends NodeJS.WritableStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

/** Whether `stream` is a terminal that can be redrawn. */
export function isTerminal(stream: NodeJS.WritableStream): stream is TerminalStream {
  return (stream as TerminalStream).isTTY === true;
}

export interface WatchScreenOptions {
  readonly out: TerminalStream;
  readonly signal: AbortSignal;
  readonly intervalMs: number;
  /** The lines to show now (read afresh each interval) and the footer under them. */
  readonly read: () => Promise<{ readonly lines: readonly string[]; readonly footer: string }>;
}

export async function watchScreen(options: WatchScreenOptions): Promise<void> {
  const { out, signal } = options;
  let shown: { readonly lines: readonly string[]; readonly footer: string } = { lines: [], footer: '' };
  const draw = (): void => {
    out.write(frame(shown.lines, shown.footer, { columns: out.columns ?? 80, rows: out.rows ?? 24 }));
  };
  // Node turns SIGWINCH into 'resize' on a terminal stream; the last frame is redrawn for the new size at once.
  const onResize = (): void => draw();
  // A process.exit() elsewhere skips the finally below; a terminal write in 'exit' is still synchronous.
  const restore = (): void => void out.write(LEAVE_SCREEN);
  out.write(ENTER_SCREEN);
  out.on('resize', onResize);
  process.once('exit', restore);
  try {
    while (!signal.aborted) {
      shown = await options.read();
      if (signal.aborted) break;
      draw();
      await sleep(options.intervalMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    out.off('resize', onResize);
    process.off('exit', restore);
    out.write(LEAVE_SCREEN);
  }
}
