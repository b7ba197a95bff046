import { execFile } from 'node:child_process';

/**
 * The thin adapter over the tmux CLI. A server is a `-L` socket name, or null for the default server
 * (whatever plain `tmux` reaches: `$TMUX`, else `default` under the tmux socket directory).
 */
export type TmuxServer = string | null;

export interface TmuxPane {
  readonly session: string;
  readonly windowIndex: number;
  readonly paneIndex: number;
  readonly paneId: string;
  readonly pid: number;
  readonly command: string;
  readonly cwd: string;
  readonly dead: boolean;
  readonly title: string;
  /** The session's `@mam_registry` user option: the registry that owns it, or null when unmarked. */
  readonly owner: string | null;
  /** A dead pane's exit status (`#{pane_dead_status}`); null while alive, or when tmux never reaped the process. */
  readonly deadStatus?: number | null;
  /** The window carries `@mam_started`: mam started its agent and keeps the pane when it dies (remain-on-exit). */
  readonly mamStarted?: boolean;
}

/** The tmux user option naming the registry (absolute path) that owns a session (docs/registry.md, 'Ownership'). */
export const OWNER_OPTION = '@mam_registry';

/**
 * The window user option mam sets (with `remain-on-exit on`) on the window of every session it starts itself: its
 * dead pane is mam's to read (exit status, last screen) and then to close. Panes of sessions mam did not start keep
 * whatever their owner's remain-on-exit says, and are judged as before.
 */
export const STARTED_OPTION = '@mam_started';

/**
 * One server's panes at one instant. `absent` means no server listens on that socket, so none of its
 * sessions exist; `unknown` means tmux could not answer (it died mid-call, the binary is missing), and
 * nothing may be concluded from it — in particular no session may be declared gone.
 */
export type ServerSnapshot =
  | { readonly server: TmuxServer; readonly state: 'up'; readonly panes: readonly TmuxPane[]; readonly process?: ServerProcess | undefined }
  | { readonly server: TmuxServer; readonly state: 'absent'; readonly panes: readonly []; readonly detail: string }
  | { readonly server: TmuxServer; readonly state: 'unknown'; readonly panes: readonly []; readonly error: string };

/**
 * The tmux server process itself (`#{pid}`, `#{start_time}`): recorded in each registry entry mam starts, so a later
 * look can tell the server that ran the session from a new one on the same socket (docs/lifecycle.md, 'restore').
 */
export interface ServerProcess {
  readonly pid: number;
  /** Epoch seconds the server started. */
  readonly startedAt: number;
}

export interface TmuxOptions {
  /** The tmux executable (`MAM_TMUX_BIN`, default `tmux`). */
  readonly bin?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface TmuxResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const FIELD = '\t';
// tmux escapes control characters in formats (a tab in a name prints as `\t`), so a tab cannot appear
// inside a field. The title goes last: whatever it holds stays in the final column.
/** The `list-panes -a -F` format of a snapshot (exported so benchmarks time exactly the same query). */
export const PANE_FORMAT = [
  '#{session_name}',
  '#{window_index}',
  '#{pane_index}',
  '#{pane_id}',
  '#{pane_pid}',
  '#{pane_current_command}',
  '#{pane_current_path}',
  '#{pane_dead}',
  // Read in the same query, so ownership costs no extra tmux call per pass.
  '#{@mam_registry}',
  '#{pane_dead_status}',
  '#{@mam_started}',
  // Server-wide: the same on every line. Read here so knowing which server process answered costs no extra call.
  '#{pid}',
  '#{start_time}',
  '#{pane_title}',
].join(FIELD);

export function serverArgs(server: TmuxServer): string[] {
  return server === null ? [] : ['-L', server];
}

/** An exact session target: `=name:` never prefix-matches another session (docs/tmux.md, 'Exact targets'). */
export function sessionTarget(name: string): string {
  return `=${name}:`;
}

/**
 * tmux (3.3a, `cmd_parse_from_arguments`) reads an argument that ends in `;` as a command separator and
 * drops the `;` — `send-keys -l 'abc;'` types `abc`. A backslash before the final `;` makes it literal (tmux
 * removes that backslash), so free text passed as one argument arrives byte-exact.
 */
export function literalArg(text: string): string {
  return text.endsWith(';') ? `${text.slice(0, -1)}\\;` : text;
}

/** A server as a map key: the default server (null) is ''. */
export function serverKey(server: TmuxServer): string {
  return server ?? '';
}

export function serverLabel(server: TmuxServer): string {
  return server ?? 'default';
}

/**
 * child_process.execFile rather than execa: this is the hottest call in `mam` (one per server per pass)
 * and execa's extra machinery costs 1–2 ms on each (BENCHMARKS.md). It is still an argv array, no shell.
 */
export function runTmux(server: TmuxServer, args: readonly string[], options: TmuxOptions = {}): Promise<TmuxResult> {
  const bin = options.bin ?? 'tmux';
  return new Promise((resolve) => {
    execFile(
      bin,
      [...serverArgs(server), ...args],
      { env: options.env ?? process.env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (!error) return resolve({ exitCode: 0, stdout, stderr });
        const code = (error as NodeJS.ErrnoException & { code?: unknown }).code;
        if (typeof code === 'number') return resolve({ exitCode: code, stdout, stderr });
        if (code === 'ENOENT') return resolve({ exitCode: 127, stdout: '', stderr: `${bin} not found: install tmux (apt-get install tmux) or set MAM_TMUX_BIN` });
        // Killed by a signal, or could not be started: nothing it printed can be trusted.
        resolve({ exitCode: 128, stdout: '', stderr: error.message.split('\n', 1)[0] ?? String(error) });
      },
    );
  });
}

/** The one query per server per pass: every pane of every session (`list-panes -a`). */
export async function snapshotServer(server: TmuxServer, options: TmuxOptions = {}): Promise<ServerSnapshot> {
  const result = await runTmux(server, ['list-panes', '-a', '-F', PANE_FORMAT], options);
  return parseSnapshot(server, result);
}

export function parseSnapshot(server: TmuxServer, result: TmuxResult): ServerSnapshot {
  if (result.exitCode !== 0) {
    const message = result.stderr.trim().split('\n', 1)[0] ?? '';
    if (isNoServer(message)) return { server, state: 'absent', panes: [], detail: message };
    return { server, state: 'unknown', panes: [], error: message || `tmux exited with ${result.exitCode}` };
  }
  // A reply cut off mid-line means the server went away while answering: nothing in it can be trusted.
  if (result.stdout !== '' && !result.stdout.endsWith('\n')) {
    return { server, state: 'unknown', panes: [], error: 'tmux reply was cut off (server died mid-answer?)' };
  }
  const panes: TmuxPane[] = [];
  let serverProc: ServerProcess | undefined;
  for (const line of result.stdout.split('\n')) {
    if (line === '') continue;
    const parsed = parsePaneLine(line);
    if (!parsed) return { server, state: 'unknown', panes: [], error: `unexpected tmux output line: ${JSON.stringify(line.slice(0, 80))}` };
    panes.push(parsed.pane);
    serverProc ??= parsed.process;
  }
  return { server, state: 'up', panes, process: serverProc };
}

function parsePaneLine(line: string): { pane: TmuxPane; process: ServerProcess | undefined } | undefined {
  const fields = line.split(FIELD);
  if (fields.length < 14) return undefined;
  const [session, windowIndex, paneIndex, paneId, pid, command, cwd, dead, owner, deadStatus, started, serverPid, serverStart] = fields as [string, string, string, string, string, string, string, string, string, string, string, string, string];
  const title = fields.slice(13).join(FIELD);
  const numbers = [Number(windowIndex), Number(paneIndex), Number(pid)];
  if (numbers.some((value) => !Number.isInteger(value)) || !paneId.startsWith('%')) return undefined;
  return { pane: {
    session,
    windowIndex: numbers[0]!,
    paneIndex: numbers[1]!,
    paneId,
    pid: numbers[2]!,
    command,
    cwd,
    dead: dead === '1',
    title,
    owner: owner === '' ? null : owner,
    deadStatus: /^\d+$/.test(deadStatus) ? Number(deadStatus) : null,
    mamStarted: started === '1',
  }, process: serverProcess(serverPid, serverStart) };
}

/** `#{pid}` and `#{start_time}` as tmux printed them, or undefined when either is not a number. */
export function serverProcess(pid: string | undefined, startedAt: string | undefined): ServerProcess | undefined {
  if (!pid || !startedAt || !/^\d+$/.test(pid) || !/^\d+$/.test(startedAt)) return undefined;
  return { pid: Number(pid), startedAt: Number(startedAt) };
}

function isNoServer(message: string): boolean {
  return (
    /^no server running on /.test(message) ||
    /^error connecting to .*\((No such file or directory|Connection refused)\)$/.test(message)
  );
}
