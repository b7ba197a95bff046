import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './util/errors.js';
import { homeDir } from './util/home.js';
import { TMUX_SERVER_PATTERN } from './registry/patterns.js';
import type { TmuxServer } from './tmux/client.js';

/**
 * Defaults and overrides (docs/environment.md, 'Files and defaults'), resolved in one place. Zod-free and light:
 * `mam hook` loads it on every agent event.
 */
export const DEFAULT_REGISTRY = path.join('.hermes', 'agent-sessions.yaml');
/** `mam`'s own tmux socket: sessions it creates live here, out of the user's own tmux. */
export const MAM_TMUX_SERVER = 'mam';
/**
 * The agent a command means when it is not told (`mam hook`, `mam hooks`, `mam job submit`, `mam pane spawn`): the
 * first `mam` supported. An id of the agent table (src/agents/index.ts; test/agents/table.test.ts checks it).
 */
export const DEFAULT_AGENT = 'claude';

/**
 * The registry a command uses: `--registry`, else `$MAM_REGISTRY`, else the nearest
 * `.hermes/agent-sessions.yaml` walking up from `cwd` (as git finds `.git`), else the user's own
 * `~/.hermes/agent-sessions.yaml`. So a project's registry is found from any of its folders, and a person
 * who works all over their home has one list instead of one per directory they happened to start in.
 */
export function registryPath(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const given = flag || env['MAM_REGISTRY'];
  if (given) return path.resolve(cwd, expandHome(given, env));
  return nearestRegistry(path.resolve(cwd)) ?? path.join(homeDir(env), DEFAULT_REGISTRY);
}

function nearestRegistry(start: string): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, DEFAULT_REGISTRY);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** `~/x` as a shell would expand it; card bodies and env values are not shell-expanded for us. */
export function expandHome(file: string, env: NodeJS.ProcessEnv): string {
  return file === '~' || file.startsWith('~/') ? path.join(homeDir(env), file.slice(2)) : file;
}

/** Delegated jobs live beside the registry that owns their sessions, so `mam job list` answers from anywhere. */
export function jobsDirFor(registryFile: string): string {
  return path.join(path.dirname(registryFile), 'jobs');
}

/** Jobs' audit logs: `$DELEGATE_JOB_LOGS_DIR`, else beside the registry (never in the user's work tree). */
export function jobLogsRootFor(registryFile: string, env: NodeJS.ProcessEnv): string {
  return env['DELEGATE_JOB_LOGS_DIR'] || path.join(path.dirname(registryFile), 'delegate_job_logs');
}

/**
 * The tmux servers to watch besides those the registry names: `--tmux-server` (repeatable), else
 * `MAM_TMUX_SERVER` (comma-separated), else the default server and `mam`'s own.
 */
export function extraTmuxServers(flags: readonly string[] | undefined, env: NodeJS.ProcessEnv): TmuxServer[] {
  const given = flags?.length ? flags : (env['MAM_TMUX_SERVER'] ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  if (given.length === 0) return [null, MAM_TMUX_SERVER];
  for (const name of given) {
    if (!TMUX_SERVER_PATTERN.test(name)) {
      throw new UsageError(`tmux server ${JSON.stringify(name)} is not a socket name (1–64 of A–Z a–z 0–9 _ -)`);
    }
  }
  return [...new Set(given)];
}

export { homeDir };

export function tmuxBin(env: NodeJS.ProcessEnv): string {
  return env['MAM_TMUX_BIN'] || 'tmux';
}

/**
 * How long a writer waits for the registry lock: `$MAM_LOCK_TIMEOUT` seconds, else 30. Every command that takes a
 * lock reads it here, so a script that sets it gets the same bound from `create` as from `reconcile` or `monitor`.
 */
export function lockTimeoutMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env['MAM_LOCK_TIMEOUT'] ?? 30);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 30_000;
}

/**
 * How long `stop` gives an agent to leave after its exit keys before it closes the session: `$MAM_STOP_GRACE`
 * seconds, else 3. An agent that saves its conversation and runs its own exit hooks on the way out can need longer
 * on a loaded machine; past the bound it is stopped anyway (kill-session), and the entry says `forced`.
 */
export function stopGraceMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env['MAM_STOP_GRACE'] ?? 3);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 3_000;
}

/** `mam hook`'s time bounds (src/facts/hook.ts); each ends the hook silently, as an agent waits on its hooks. */
export interface HookTimeouts {
  /** stdin silent this long without a whole payload: an agent that never closes it. */
  readonly stdinIdleMs: number;
  /** A payload still arriving after this long is given up (64 MB on a busy machine takes a few seconds). */
  readonly stdinMaxMs: number;
  /** Everything after the payload is read: parse, fact file, watcher check, registry. */
  readonly recordMs: number;
  /** The wait for a fact file's lock, and for the registry's. */
  readonly lockMs: number;
}

/**
 * `$MAM_HOOK_TIMEOUT` seconds for recording one event (default 5), and the hook's other bounds in the same
 * proportion to it: 2 s of silent stdin, 10 s for the payload, 2 s per lock by default. The defaults keep an agent
 * from waiting on its hooks; a machine loaded far beyond what they allow for (a test suite beside a CPU burner)
 * raises them all with one number instead of losing events. Anything but a positive number means the default.
 */
export function hookTimeouts(env: NodeJS.ProcessEnv): HookTimeouts {
  const seconds = Number(env['MAM_HOOK_TIMEOUT'] ?? 5);
  const recordMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5_000;
  return { stdinIdleMs: recordMs * 0.4, stdinMaxMs: recordMs * 2, recordMs, lockMs: recordMs * 0.4 };
}

/** `${XDG_CACHE_HOME:-~/.cache}`: under it live every cache folder mam keeps. */
function cacheHome(env: NodeJS.ProcessEnv): string {
  return env['XDG_CACHE_HOME'] || path.join(homeDir(env), '.cache');
}

/** Hook fact files and the watcher's pid file and log: `$MAM_STATUS_DIR`, else `<cache>/mam/status`. */
export function statusDir(env: NodeJS.ProcessEnv): string {
  return env['MAM_STATUS_DIR'] || path.join(cacheHome(env), 'mam', 'status');
}

/** Read-only callers' cached parses of registries (src/registry/read-cache.ts): `<cache>/mam/registry`. */
export function registryCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(cacheHome(env), 'mam', 'registry');
}

/**
 * The monitor's per-workspace coalescing state: `$MAM_STATE_DIR`, else `<cache>/agent-sessions-monitor` (the
 * seed's name, which people's scripts know).
 */
export function monitorStateDir(env: NodeJS.ProcessEnv): string {
  return env['MAM_STATE_DIR'] || path.join(cacheHome(env), 'agent-sessions-monitor');
}

/**
 * The embedded broker's record, lock and log: `$MAM_BROKER_DIR`, else `mam/broker/` next to the monitor's state
 * directory — with the defaults `<cache>/mam/broker/` (`MAM_STATE_DIR=/x/state` moves it to `/x/mam/broker/`).
 */
export function brokerDir(env: NodeJS.ProcessEnv): string {
  const explicit = env['MAM_BROKER_DIR'];
  if (explicit) return path.resolve(explicit);
  return path.join(path.dirname(monitorStateDir(env)), 'mam', 'broker');
}

/**
 * The job daemon's socket, pid file, lock and log (src/jobs/daemon.ts): `$MAM_JOB_DAEMON_DIR`, else
 * `<cache>/mam/jobd`.
 */
export function jobDaemonDir(env: NodeJS.ProcessEnv): string {
  return env['MAM_JOB_DAEMON_DIR'] || path.join(cacheHome(env), 'mam', 'jobd');
}

/** Where a notification goes (docs/status.md, 'Notifications'): the desktop, and tmux's attached clients. */
export type NotifyChannel = 'desktop' | 'tmux';
/** What is announced: an agent starts waiting for approval, finishes its turn, or dies. */
export type NotifyEvent = 'approval' | 'done' | 'died';

export interface NotifySettings {
  /** Empty: notifications are off. */
  readonly channels: ReadonlySet<NotifyChannel>;
  readonly events: ReadonlySet<NotifyEvent>;
  /** Words of MAM_NOTIFY / MAM_NOTIFY_EVENTS that mean nothing, for the watcher to log: it must not stop over them. */
  readonly problems: readonly string[];
}

const NOTIFY_CHANNELS: readonly NotifyChannel[] = ['desktop', 'tmux'];
const NOTIFY_EVENTS: readonly NotifyEvent[] = ['approval', 'done', 'died'];

/**
 * `MAM_NOTIFY`: `off` (also `0`, `none`), `on` (the default: every channel), or a comma list of channels;
 * `MAM_NOTIFY_EVENTS`: a comma list of events, or `all` (default `approval`). `off` (the flag `mam watch --no-notify`)
 * wins over everything. An unknown word is reported in `problems` and skipped; the rest still counts.
 */
export function notifySettings(env: NodeJS.ProcessEnv, off = false): NotifySettings {
  const problems: string[] = [];
  const words = (name: string): string[] => (env[name] ?? '').split(',').map((word) => word.trim().toLowerCase()).filter(Boolean);
  const pick = <T extends string>(name: string, known: readonly T[], given: readonly string[]): Set<T> => {
    const found = new Set<T>();
    for (const word of given) {
      if ((known as readonly string[]).includes(word)) found.add(word as T);
      else problems.push(`${name}: ${JSON.stringify(word)} is not one of ${[...known, 'all'].join(', ')}; ignored`);
    }
    return found;
  };
  const channelWords = words('MAM_NOTIFY');
  const channels =
    off || channelWords.some((word) => ['off', '0', 'none', 'false', 'no'].includes(word))
      ? new Set<NotifyChannel>()
      : channelWords.length === 0 || channelWords.every((word) => ['on', '1', 'all', 'true', 'yes'].includes(word))
        ? new Set(NOTIFY_CHANNELS)
        : pick('MAM_NOTIFY', NOTIFY_CHANNELS, channelWords.filter((word) => !['on', '1', 'all', 'true', 'yes'].includes(word)));
  const eventWords = words('MAM_NOTIFY_EVENTS');
  const events = eventWords.length === 0 ? new Set<NotifyEvent>(['approval']) : eventWords.includes('all') ? new Set(NOTIFY_EVENTS) : pick('MAM_NOTIFY_EVENTS', NOTIFY_EVENTS, eventWords);
  return { channels, events, problems };
}
