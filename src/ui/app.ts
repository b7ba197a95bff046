import { Box, React, render, Text, useInput, type Instance, type Key } from './ink-vendor.js';
import type { Dashboard } from './dashboard.js';
import type { Frame, Segment } from './frame.js';
import type { UiKey } from './view.js';

/**
 * `mam ui`'s terminal shell on ink: draws the dashboard's frames and turns key presses into its keys. Everything
 * else is in ./dashboard.ts (headless), the pure modules it joins, and ./run.ts, which loads this module while the
 * first read of the fleet is under way. No JSX: `h` is React.createElement.
 * ink writes a frame only when its text changed, erasing and rewriting it in one synchronized-output write; its
 * incrementalRendering mode is off: in ink 6.8 it draws every frame one line lower (docs/ui.md, 'Rendering').
 */
const h = React.createElement;

/** The terminal as the dashboard uses it: drawn on, let go of for an attach, and taken back. */
export interface Screen {
  mount(): void;
  unmount(): void;
  /** Forget what is on screen and draw it all again (after a resize). */
  clear(): void;
}

export function inkScreen(dashboard: Dashboard, stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): Screen {
  let instance: Instance | undefined;
  let stoppedReading = false;
  return {
    mount() {
      if (stoppedReading) resumeReading(stdin);
      stoppedReading = false;
      instance = render(h(App, { dashboard }), { stdout, stdin, exitOnCtrlC: false, patchConsole: false, incrementalRendering: false, maxFps: 30 });
    },
    unmount() {
      instance?.unmount();
      instance = undefined;
      stoppedReading = stopReading(stdin) || stoppedReading;
    },
    clear() {
      instance?.clear();
    },
  };
}

type ReadHandle = { reading?: boolean; readStart?: () => number; readStop?: () => number };
const handleOf = (stdin: NodeJS.ReadStream): ReadHandle | undefined => (stdin as unknown as { _handle?: ReadHandle })._handle;

/**
 * Nothing of ours may read the keys meant for the program the terminal is handed to. Once ink has let go of stdin,
 * the stream is paused but its handle goes on reading into the stream's buffer (up to 16 KiB) — Node stops the
 * handle in pause() only for sockets read with a buffer of their own — so every key typed into the attached
 * session would land here. So the handle is stopped as net.Socket.pause() does it, and started again in
 * {@link resumeReading} (the stream itself still counts its read as under way and would not start it).
 */
function stopReading(stdin: NodeJS.ReadStream): boolean {
  stdin.pause();
  const handle = handleOf(stdin);
  if (!handle?.reading || !handle.readStop) return false;
  handle.reading = false;
  handle.readStop();
  return true;
}

function resumeReading(stdin: NodeJS.ReadStream): void {
  const handle = handleOf(stdin);
  if (!handle || handle.reading || !handle.readStart) return;
  handle.reading = true;
  handle.readStart();
}

function App({ dashboard }: { readonly dashboard: Dashboard }): React.ReactElement {
  const [frame, setFrame] = React.useState<Frame>(dashboard.frame);
  React.useEffect(() => {
    setFrame(dashboard.frame);
    return dashboard.subscribe(setFrame);
  }, [dashboard]);
  useInput((input, key) => {
    for (const pressed of uiKeys(input, key)) dashboard.key(pressed);
  });
  return h(FrameView, { frame });
}

/**
 * One frame as ink elements: one <Text> per line, its styles already written as SGR escapes (ink measures and cuts
 * styled text correctly), never wrapped — a wrapped line would push the frame past the screen. A <Text> per styled
 * segment costs ink's layout four to five times as many nodes, which bench/ui.bench.ts showed in every redraw.
 */
export function FrameView({ frame }: { readonly frame: Frame }): React.ReactElement {
  return h(
    Box,
    { flexDirection: 'column' },
    frame.lines.map((line, index) => h(Text, { key: index, wrap: 'truncate-end' }, line.length === 0 ? ' ' : line.map(sgr).join(''))),
  );
}

const SGR_COLOR: Readonly<Record<NonNullable<Segment['color']>, number>> = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 };

/** A segment with its attributes as one SGR sequence, reset after it. */
export function sgr(part: Segment): string {
  const codes = [part.color === undefined ? undefined : SGR_COLOR[part.color], part.bold ? 1 : undefined, part.dim ? 2 : undefined, part.inverse ? 7 : undefined].filter((code) => code !== undefined);
  return codes.length === 0 || part.text === '' ? part.text : `\x1b[${codes.join(';')}m${part.text}\x1b[0m`;
}

/**
 * ink's key → the dashboard's keys. ink hands plain text that arrives in one read (a paste, fast typing, tmux
 * send-keys) over as one string, Enter included: that is taken apart here, one key per character. Terminals send
 * DEL for Backspace, which ink calls `delete`.
 */
export function uiKeys(input: string, key: Key): UiKey[] {
  if (input.length > 1 && !input.startsWith('\x1b')) return [...input].flatMap(plainKey);
  if (key.ctrl && input === 'c') return [{ name: 'interrupt' }];
  if (key.upArrow) return [{ name: 'up' }];
  if (key.downArrow) return [{ name: 'down' }];
  if (key.pageUp) return [{ name: 'pageup' }];
  if (key.pageDown) return [{ name: 'pagedown' }];
  if (key.home) return [{ name: 'home' }];
  if (key.end) return [{ name: 'end' }];
  if (key.return) return [{ name: 'enter' }];
  if (key.escape) return [{ name: 'escape' }];
  if (key.tab) return [{ name: key.shift ? 'backtab' : 'tab' }];
  if (key.backspace || key.delete) return [{ name: 'backspace' }];
  // Esc and a key in one read reach ink as Alt+key; nothing here is bound to Alt, so it is the two keys.
  if (key.meta && !key.ctrl && input.length === 1) return [{ name: 'escape' }, ...plainKey(input)];
  if (key.ctrl || key.meta || input === '') return [];
  return plainKey(input);
}

function plainKey(char: string): UiKey[] {
  if (char === '\r' || char === '\n') return [{ name: 'enter' }];
  if (char === '\t') return [{ name: 'tab' }];
  if (char === '\x7f' || char === '\b') return [{ name: 'backspace' }];
  if (char === '\x03') return [{ name: 'interrupt' }];
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(char)) return [];
  return [{ name: 'char', char }];
}
