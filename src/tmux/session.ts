import type { KeyPress } from '../agents/types.js';
import { MamError } from '../util/errors.js';
import { literalArg, OWNER_OPTION, runTmux, serverProcess, STARTED_OPTION, serverLabel, sessionTarget, type ServerProcess, type TmuxOptions, type TmuxPane, type TmuxServer } from './client.js';

/**
 * tmux operations on one named session, for the mutators (create, resume, stop). Every target is
 * exact (`=name`, `=name:`), every command an argv array; names are validated before they get here.
 */

export interface NewSession {
  readonly server: TmuxServer;
  readonly name: string;
  readonly cwd: string;
  /** The agent's argv. Two or more words make tmux exec it directly, with no shell in between. */
  readonly argv: readonly string[];
  /** Extra environment for the session (`-e K=V`), e.g. `MAM_SESSION`. */
  readonly env: Readonly<Record<string, string>>;
  /** The registry that owns the session: set as `@mam_registry` in the same tmux invocation that creates it. */
  readonly owner?: string;
}

export class DuplicateSessionError extends MamError {
  constructor(name: string, server: TmuxServer) {
    super(`a tmux session named ${name} already exists on tmux server ${serverLabel(server)}; pick another --name, or stop that session first`);
  }
}

/**
 * Creates the session, or fails with DuplicateSessionError: tmux itself decides atomically, so two
 * racing creates can never both succeed (no check-then-create).
 *
 * A user's ~/.tmux.conf must not be able to crash or reshape mam's sessions (issue 13.3): tmux 3.3a's server exits
 * ("server exited unexpectedly", taking every session on it along) on any detached new-session under
 * `window-size manual`, and settings such as `destroy-unattached` or session hooks act on sessions nobody
 * attached. So a server this call starts reads no config file (`-f /dev/null`: mam's sockets are mam's machinery;
 * `tmux -L mam source-file ~/.tmux.conf` brings the user's bindings in, at their own risk), and on a server that is
 * already up with `window-size manual` the option is lifted to `latest` for just this new-session and put back, in
 * the same tmux invocation (no other client is served in between).
 */
export async function newSession(spec: NewSession, options: TmuxOptions = {}): Promise<void> {
  // `env` as argv[0] keeps the command at two or more words even for a bare `claude`, so tmux execs it
  // without `sh -c` (no word splitting, no globbing), and `env` execs the agent in turn: same pid.
  // tmux (3.3a) gives a command started from a client that client's PATH, whatever `-e PATH=…` says; `env PATH=…`
  // sets it for the agent's own lookup and environment instead (docs/tmux.md, 'PATH of a new session').
  const { PATH: searchPath, ...variables } = spec.env;
  const argv = ['env', ...(searchPath === undefined ? [] : [`PATH=${searchPath}`]), ...spec.argv];
  const envFlags = Object.entries(variables).flatMap(([key, value]) => ['-e', literalArg(`${key}=${value}`)]);
  // A lone `;` argument chains a second command into the same invocation: tmux runs both before it serves any
  // other client, so no pass (and no other registry) can ever see this session unmarked. Every other argument
  // that ends in `;` is escaped so it cannot split the command line. A session mam starts for a registry keeps its
  // pane when the agent dies (remain-on-exit), so the next pass can read why it died (issue 13.4).
  const target = sessionTarget(spec.name);
  const mark =
    spec.owner === undefined
      ? []
      : [';', 'set-option', '-t', target, OWNER_OPTION, literalArg(spec.owner), ';', 'set-option', '-w', '-t', target, 'remain-on-exit', 'on', ';', 'set-option', '-w', '-t', target, STARTED_OPTION, '1'];
  const manual = (await globalWindowSize(spec.server, options)) === 'manual';
  const create = ['new-session', '-d', '-s', spec.name, '-c', literalArg(spec.cwd), '-x', '200', '-y', '50', ...envFlags, ...argv.map(literalArg), ...mark];
  const args = manual ? ['set-option', '-g', 'window-size', 'latest', ';', ...create, ';', 'set-option', '-g', 'window-size', 'manual'] : create;
  const result = await runTmux(spec.server, ['-f', '/dev/null', ...args], options);
  if (result.exitCode === 0) return;
  const message = result.stderr.trim();
  if (/^duplicate session/.test(message)) {
    // The lifted option goes back even though new-session failed (tmux stops the sequence at the failing command).
    if (manual) await runTmux(spec.server, ['set-option', '-g', 'window-size', 'manual'], options);
    throw new DuplicateSessionError(spec.name, spec.server);
  }
  throw new MamError(`tmux could not create session ${spec.name} on server ${serverLabel(spec.server)}: ${message || `exit ${result.exitCode}`}`);
}

/** The running server's global `window-size`, or undefined when no server is up (one that starts reads no config). */
async function globalWindowSize(server: TmuxServer, options: TmuxOptions): Promise<string | undefined> {
  const result = await runTmux(server, ['show-options', '-gqv', 'window-size'], options);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

export type PaneFacts = Pick<TmuxPane, 'pid' | 'command' | 'cwd' | 'dead' | 'deadStatus'> & {
  /** The tmux server process that holds the session, read in the same call. */
  readonly server?: ServerProcess | undefined;
};

const PANE_FACTS = '#{pane_pid}\t#{pane_current_command}\t#{pane_current_path}\t#{pane_dead}\t#{pane_dead_status}\t#{pid}\t#{start_time}';

/** The session's first pane, or undefined when the session does not exist. */
export async function sessionPane(server: TmuxServer, name: string, options: TmuxOptions = {}): Promise<PaneFacts | undefined> {
  const result = await runTmux(server, ['display-message', '-p', '-t', sessionTarget(name), PANE_FACTS], options);
  return result.exitCode === 0 ? paneFacts(result.stdout.replace(/\n$/, '')) : undefined;
}

/**
 * The session's first pane and its visible screen (as {@link capturePane}), read in one tmux call: a start watched
 * ten times a second then starts one client per look instead of two. Undefined when the session does not exist.
 */
export async function sessionPaneAndScreen(server: TmuxServer, name: string, options: TmuxOptions = {}): Promise<{ pane: PaneFacts; screen: string } | undefined> {
  const target = sessionTarget(name);
  const result = await runTmux(server, ['display-message', '-p', '-t', target, PANE_FACTS, ';', 'capture-pane', '-p', '-J', '-t', target], options);
  if (result.exitCode !== 0) return undefined;
  const newline = result.stdout.indexOf('\n');
  const pane = newline < 0 ? undefined : paneFacts(result.stdout.slice(0, newline));
  return pane && { pane, screen: result.stdout.slice(newline + 1) };
}

/** One line of {@link PANE_FACTS}, as display-message prints it. */
function paneFacts(line: string): PaneFacts | undefined {
  const [pid, command, cwd, dead, deadStatus, serverPid, serverStart] = line.split('\t');
  // An empty reply (a target that resolved to nothing) must never become pid 0: kill(0) is our group.
  if (!pid || !/^\d+$/.test(pid) || Number(pid) <= 1) return undefined;
  return {
    pid: Number(pid),
    command: command ?? '',
    cwd: cwd ?? '',
    dead: dead === '1',
    deadStatus: deadStatus && /^\d+$/.test(deadStatus) ? Number(deadStatus) : null,
    server: serverProcess(serverPid, serverStart),
  };
}

export async function sessionExists(server: TmuxServer, name: string, options: TmuxOptions = {}): Promise<boolean> {
  return (await runTmux(server, ['has-session', '-t', `=${name}`], options)).exitCode === 0;
}

/** The visible screen (plus `history` lines of scrollback), wrapped lines joined. */
export async function capturePane(server: TmuxServer, name: string, history = 0, options: TmuxOptions = {}): Promise<string | undefined> {
  const result = await runTmux(server, ['capture-pane', '-p', '-J', '-t', sessionTarget(name), ...(history > 0 ? ['-S', `-${history}`] : [])], options);
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** Literal text goes through `send-keys -l` (nothing in it is a key name); keys go by name. */
export async function sendKeys(server: TmuxServer, name: string, keys: readonly KeyPress[], options: TmuxOptions = {}): Promise<boolean> {
  for (const press of keys) {
    const args = 'text' in press ? ['send-keys', '-t', sessionTarget(name), '-l', '--', literalArg(press.text)] : ['send-keys', '-t', sessionTarget(name), press.key];
    if ((await runTmux(server, args, options)).exitCode !== 0) return false;
  }
  return true;
}

/**
 * The session's owner (`@mam_registry`): `{exists: false}` when there is no such session, `owner: null` when it is
 * unmarked.
 */
export async function sessionOwner(server: TmuxServer, name: string, options: TmuxOptions = {}): Promise<{ exists: false } | { exists: true; owner: string | null }> {
  const result = await runTmux(server, ['display-message', '-p', '-t', sessionTarget(name), `#{session_name}\t#{${OWNER_OPTION}}`], options);
  if (result.exitCode !== 0) return { exists: false };
  const [session, owner] = result.stdout.replace(/\n$/, '').split('\t');
  if (session !== name) return { exists: false };
  return { exists: true, owner: owner ? owner : null };
}

/**
 * Marks a session as owned by `owner` and says whether it now is. `from: null` claims only an unmarked session
 * (`set-option -o` refuses one already set, atomically in the tmux server, so of two registries racing for the
 * same session exactly one wins); `from: PATH` takes over a session still marked PATH (an adoption: PATH's
 * registry file is gone). The owner is read back either way: what tmux holds afterwards is the answer.
 */
export async function claimSession(server: TmuxServer, name: string, owner: string, from: string | null, options: TmuxOptions = {}): Promise<boolean> {
  const target = sessionTarget(name);
  const before = await sessionOwner(server, name, options);
  if (!before.exists) return false;
  if (before.owner !== owner) {
    if (before.owner !== from) return false;
    const unset = from === null ? [] : ['set-option', '-u', '-t', target, OWNER_OPTION, ';'];
    await runTmux(server, [...unset, 'set-option', '-o', '-t', target, OWNER_OPTION, literalArg(owner)], options);
  }
  const after = await sessionOwner(server, name, options);
  return after.exists && after.owner === owner;
}

export async function killSession(server: TmuxServer, name: string, options: TmuxOptions = {}): Promise<boolean> {
  return (await runTmux(server, ['kill-session', '-t', `=${name}`], options)).exitCode === 0;
}

/**
 * Closes the session that holds pane `paneId` (`%N`), if it still does. A pane id is never reused while the server
 * runs, so a session of the same name started since (a resume) is never the one closed.
 */
export async function killSessionOfPane(server: TmuxServer, paneId: string, options: TmuxOptions = {}): Promise<boolean> {
  return (await runTmux(server, ['kill-session', '-t', paneId], options)).exitCode === 0;
}

export interface DeadPane {
  /** `#{pane_dead_status}`; null when tmux has none (it never reaped the agent, or it died of a signal). */
  readonly status: number | null;
  /** The screen and up to DEAD_PANE_HISTORY lines above it: tmux's "Pane is dead" line can push the last words up. */
  readonly screen: string;
}

const DEAD_PANE_HISTORY = 100;

/**
 * The exit status and last screen of a dead pane (`target`: a pane id or a session target), or undefined when it is
 * gone or not dead. tmux 3.3a now and then misses the SIGCHLD of a pane's process and leaves it a zombie with no
 * status until some other child of the server exits; `run-shell true` makes such a child, and the server's reaping
 * of it (waitpid of any child) reaps the pane's process too — so an empty status is read once more after it.
 */
export async function deadPane(server: TmuxServer, target: string, options: TmuxOptions = {}): Promise<DeadPane | undefined> {
  const read = ['display-message', '-p', '-t', target, '#{pane_dead}:#{pane_dead_status}', ';', 'capture-pane', '-p', '-J', '-t', target, '-S', `-${DEAD_PANE_HISTORY}`];
  let result = await runTmux(server, read, options);
  if (result.exitCode === 0 && result.stdout.startsWith('1:\n')) result = await runTmux(server, ['run-shell', 'true', ';', ...read], options);
  if (result.exitCode !== 0) return undefined;
  const newline = result.stdout.indexOf('\n');
  const [dead, status] = result.stdout.slice(0, newline).split(':');
  if (dead !== '1') return undefined;
  return { status: status && /^\d+$/.test(status) ? Number(status) : null, screen: result.stdout.slice(newline + 1) };
}
