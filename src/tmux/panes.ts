import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { KeyPress } from '../agents/types.js';
import { MamError } from '../util/errors.js';
import { PANE_ID_PATTERN } from '../registry/schema.js';
import { literalArg, runTmux, type TmuxOptions, type TmuxServer } from './client.js';

/**
 * tmux operations on single panes, addressed by pane id (`%N`) — the unit the tmux templates orchestrate
 * (docs/pane.md). Pane ids are unique within one tmux server only, so every call names its server too.
 */

export { PANE_ID_PATTERN, WINDOW_ID_PATTERN } from '../registry/schema.js';

/**
 * The server a pane command talks to. `run` is what tmux gets (`-L name`, or null: the server of `$TMUX`
 * / the default one); `name` is how the registry records it (the socket's file name).
 */
export interface PaneServer {
  readonly run: TmuxServer;
  readonly name: string;
}

export function paneServer(flag: string | undefined, env: NodeJS.ProcessEnv): PaneServer {
  if (flag !== undefined) return { run: flag, name: flag };
  // Inside tmux, plain `tmux` reaches the server of $TMUX (`<socket path>,<pid>,<session>`) even for a -S socket.
  const socket = (env['TMUX'] ?? '').split(',')[0] ?? '';
  if (socket !== '') return { run: null, name: path.basename(socket) };
  return { run: null, name: 'default' };
}

export interface PaneInfo {
  readonly paneId: string;
  readonly pid: number;
  readonly dead: boolean;
  readonly session: string;
  readonly windowId: string;
  readonly index: number;
  readonly command: string;
  readonly cwd: string;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  readonly windowWidth: number;
  readonly windowHeight: number;
  readonly cursorX: number;
  readonly cursorY: number;
}

const INFO_FIELDS = [
  'pane_id', 'pane_pid', 'pane_dead', 'window_id', 'pane_index', 'pane_left', 'pane_top', 'pane_width', 'pane_height',
  'window_width', 'window_height', 'cursor_x', 'cursor_y', 'pane_current_command', 'pane_current_path', 'session_name',
] as const;
// Free-text fields last, so a tab tmux would print as `\t` anyway cannot shift the numbers.
const INFO_FORMAT = INFO_FIELDS.map((field) => `#{${field}}`).join('\t');

function parseInfo(line: string): PaneInfo | undefined {
  const fields = line.split('\t');
  if (fields.length < INFO_FIELDS.length) return undefined;
  const text = (index: number): string => fields[index] ?? '';
  const number = (index: number): number => Number(text(index));
  const paneId = text(0);
  if (!PANE_ID_PATTERN.test(paneId) || !Number.isInteger(number(1))) return undefined;
  return {
    paneId,
    pid: number(1),
    dead: text(2) === '1',
    windowId: text(3),
    index: number(4),
    left: number(5),
    top: number(6),
    width: number(7),
    height: number(8),
    windowWidth: number(9),
    windowHeight: number(10),
    cursorX: number(11),
    cursorY: number(12),
    command: text(13),
    cwd: text(14),
    session: fields.slice(15).join('\t'),
  };
}

/**
 * The pane, or undefined when the server has no such pane (or no server listens). The reply's pane id
 * is checked against the one asked for: a target that resolves to nothing must never pass for a pane.
 */
export async function paneInfo(server: TmuxServer, target: string, options: TmuxOptions = {}): Promise<PaneInfo | undefined> {
  // A pane id, or an exact session target (`=name:`, its active pane); never a bare name that could prefix-match.
  if (!PANE_ID_PATTERN.test(target) && !/^=[A-Za-z0-9_-]+:$/.test(target)) return undefined;
  const result = await runTmux(server, ['display-message', '-p', '-t', target, INFO_FORMAT], options);
  if (result.exitCode !== 0) return undefined;
  const info = parseInfo(result.stdout.replace(/\n$/, ''));
  return info && (info.paneId === target || !PANE_ID_PATTERN.test(target)) ? info : undefined;
}

/** The panes of a window (`@N`) or of the window holding pane `%N`, in index order. */
export async function windowPanes(server: TmuxServer, target: string, options: TmuxOptions = {}): Promise<PaneInfo[]> {
  const result = await runTmux(server, ['list-panes', '-t', target, '-F', INFO_FORMAT], options);
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map(parseInfo)
    .filter((pane): pane is PaneInfo => pane !== undefined)
    .sort((a, b) => a.index - b.index);
}

/** Runs a tmux command that must succeed; the error names the command and what tmux said. */
export async function tmuxMust(server: TmuxServer, args: readonly string[], options: TmuxOptions, what: string): Promise<string> {
  const result = await runTmux(server, args, options);
  if (result.exitCode !== 0) throw new MamError(`tmux could not ${what}: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
  return result.stdout;
}

export interface Split {
  /** The pane to split: the new pane goes right of it (`h`) or below it (`v`). */
  readonly target: string;
  readonly direction: 'h' | 'v';
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Splits `target` and starts `argv` in the new pane, without a shell and without taking the focus from
 * whoever is typing in the window (`-d`). Returns the new pane's id.
 */
export async function splitPane(server: TmuxServer, split: Split, options: TmuxOptions = {}): Promise<string> {
  const envFlags = Object.entries(split.env).flatMap(([key, value]) => ['-e', literalArg(`${key}=${value}`)]);
  // `env` first keeps the command at two or more words, so tmux execs it instead of handing it to `sh -c`.
  const argv = ['env', ...split.argv].map(literalArg);
  const stdout = await tmuxMust(
    server,
    ['split-window', '-d', `-${split.direction}`, '-t', split.target, '-c', split.cwd, '-P', '-F', '#{pane_id}', ...envFlags, ...argv],
    options,
    `split pane ${split.target}`,
  );
  const id = stdout.trim();
  if (!PANE_ID_PATTERN.test(id)) throw new MamError(`tmux split ${split.target} but printed no pane id (${JSON.stringify(stdout.slice(0, 40))})`);
  return id;
}

/** Text longer than this, or with a newline, goes through a paste buffer rather than typed keys. */
export const PASTE_OVER = 512;

/**
 * Types free text literally. Short single-line text: `send-keys -l` (no key names, no `|`/`:` tricks).
 * Long or multi-line text: a uniquely named paste buffer pasted with bracketed-paste markers (`-p`), so
 * newlines inside it do not submit early, and deleted after (`-d`).
 */
export async function typeText(server: TmuxServer, paneId: string, text: string, options: TmuxOptions = {}): Promise<boolean> {
  if (text.length <= PASTE_OVER && !text.includes('\n')) {
    return (await runTmux(server, ['send-keys', '-t', paneId, '-l', '--', literalArg(text)], options)).exitCode === 0;
  }
  const buffer = `mam-${process.pid}-${randomBytes(4).toString('hex')}`;
  if ((await runTmux(server, ['set-buffer', '-b', buffer, '--', literalArg(text)], options)).exitCode !== 0) return false;
  const pasted = await runTmux(server, ['paste-buffer', '-p', '-d', '-b', buffer, '-t', paneId], options);
  if (pasted.exitCode !== 0) await runTmux(server, ['delete-buffer', '-b', buffer], options);
  return pasted.exitCode === 0;
}

/**
 * Key presses, one tmux call each. Text that is a slash command (`/exit`) is sent as keys, not `-l`, as the
 * templates ask (docs/pane.md, 'Where the pane commands come from'); other text is literal. Enter is always its own
 * call.
 */
export async function pressKeys(server: TmuxServer, paneId: string, keys: readonly KeyPress[], options: TmuxOptions = {}): Promise<boolean> {
  for (const press of keys) {
    const args =
      'key' in press
        ? ['send-keys', '-t', paneId, press.key]
        : press.text.startsWith('/')
          ? ['send-keys', '-t', paneId, literalArg(press.text)]
          : ['send-keys', '-t', paneId, '-l', '--', literalArg(press.text)];
    if ((await runTmux(server, args, options)).exitCode !== 0) return false;
  }
  return true;
}

/** The screen, or with `history` the whole scrollback too; wrapped lines joined. */
export async function capturePaneById(server: TmuxServer, paneId: string, history: boolean, options: TmuxOptions = {}): Promise<string | undefined> {
  const result = await runTmux(server, ['capture-pane', '-p', '-J', '-t', paneId, ...(history ? ['-S', '-'] : [])], options);
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** The visible screen's lines exactly as laid out (not joined), for reading the line under the cursor. */
export async function screenLines(server: TmuxServer, paneId: string, options: TmuxOptions = {}): Promise<string[] | undefined> {
  const result = await runTmux(server, ['capture-pane', '-p', '-t', paneId], options);
  return result.exitCode === 0 ? result.stdout.split('\n') : undefined;
}

export async function killPane(server: TmuxServer, paneId: string, options: TmuxOptions = {}): Promise<boolean> {
  return (await runTmux(server, ['kill-pane', '-t', paneId], options)).exitCode === 0;
}
