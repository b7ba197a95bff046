import type { KeyPress } from '../agents/types.js';
import { MamError } from '../errors.js';
import { literalArg, OWNER_OPTION, runTmux, serverLabel, sessionTarget, type TmuxOptions, type TmuxPane, type TmuxServer } from './client.js';

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
 */
export async function newSession(spec: NewSession, options: TmuxOptions = {}): Promise<void> {
  // `env` as argv[0] keeps the command at two or more words even for a bare `claude`, so tmux execs it
  // without `sh -c` (no word splitting, no globbing), and `env` execs the agent in turn: same pid.
  const argv = ['env', ...spec.argv];
  const envFlags = Object.entries(spec.env).flatMap(([key, value]) => ['-e', literalArg(`${key}=${value}`)]);
  // A lone `;` argument chains a second command into the same invocation: tmux runs both before it serves any
  // other client, so no pass (and no other registry) can ever see this session unmarked. Every other argument
  // that ends in `;` is escaped so it cannot split the command line.
  const mark = spec.owner === undefined ? [] : [';', 'set-option', '-t', sessionTarget(spec.name), OWNER_OPTION, literalArg(spec.owner)];
  const result = await runTmux(spec.server, ['new-session', '-d', '-s', spec.name, '-c', literalArg(spec.cwd), '-x', '200', '-y', '50', ...envFlags, ...argv.map(literalArg), ...mark], options);
  if (result.exitCode === 0) return;
  const message = result.stderr.trim();
  if (/^duplicate session/.test(message)) throw new DuplicateSessionError(spec.name, spec.server);
  throw new MamError(`tmux could not create session ${spec.name} on server ${serverLabel(spec.server)}: ${message || `exit ${result.exitCode}`}`);
}

export type PaneFacts = Pick<TmuxPane, 'pid' | 'command' | 'cwd' | 'dead'>;

/** The session's first pane, or undefined when the session does not exist. */
export async function sessionPane(server: TmuxServer, name: string, options: TmuxOptions = {}): Promise<PaneFacts | undefined> {
  const result = await runTmux(server, ['display-message', '-p', '-t', sessionTarget(name), '#{pane_pid}\t#{pane_current_command}\t#{pane_current_path}\t#{pane_dead}'], options);
  if (result.exitCode !== 0) return undefined;
  const [pid, command, cwd, dead] = result.stdout.replace(/\n$/, '').split('\t');
  // An empty reply (a target that resolved to nothing) must never become pid 0: kill(0) is our group.
  if (!pid || !/^\d+$/.test(pid) || Number(pid) <= 1) return undefined;
  return { pid: Number(pid), command: command ?? '', cwd: cwd ?? '', dead: dead === '1' };
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
