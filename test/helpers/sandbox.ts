import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runningWatcher } from '../../src/facts/watcher-pid.js';
import { isAlive, processId, signalAll, type ProcessId } from '../../src/proc/tree.js';
import { waitFor } from '../../src/util/wait.js';

const run = promisify(execFile);

/** The live processes whose environment has HOME=`home`: whatever a test started with its sandbox's env. */
function processesOf(home: string): ProcessId[] {
  const marker = `HOME=${home}\0`;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return [];
  }
  return pids.flatMap((pid) => {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      const id = environ.startsWith(marker) || environ.includes(`\0${marker}`) ? processId(Number(pid)) : undefined;
      return id && isAlive(id) ? [id] : [];
    } catch {
      return []; // gone, or not ours to read
    }
  });
}

/** Ends every process of the sandbox: SIGTERM, SIGKILL after 5 s; by pid and start time, so never a reused pid. */
async function endProcessesOf(home: string): Promise<void> {
  const started = Date.now();
  await waitFor(() => {
    const left = processesOf(home);
    signalAll(left, Date.now() - started < 5_000 ? 'SIGTERM' : 'SIGKILL');
    return left.length === 0;
  }, 15_000, 100);
}

/** Sends `signal` to a process and waits up to `waitMs` for it to be gone (a zombie counts as gone). */
async function signalAndWait(id: ProcessId | undefined, signal: NodeJS.Signals, waitMs: number): Promise<void> {
  if (!id) return;
  signalAll([id], signal);
  await waitFor(() => !isAlive(id), waitMs);
}

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAM = path.join(REPO, 'dist/cli/main.js');

/**
 * A throwaway world for one test: temp HOME (so ~/.claude is ours), a private tmux socket directory
 * (TMUX_TMPDIR, so even "the default server" is private) and uniquely named servers. Nothing here can
 * reach the user's own tmux, registry or agent files. `dispose()` ends only what it started: its servers, and the
 * processes running with its HOME.
 */
export class Sandbox {
  private readonly servers = new Set<string>();

  private constructor(readonly root: string) {}

  static async create(prefix = 'mam-test-'): Promise<Sandbox> {
    const root = await mkdtemp(path.join(os.tmpdir(), prefix));
    const sandbox = new Sandbox(root);
    await mkdir(sandbox.home, { recursive: true });
    await mkdir(sandbox.tmuxDir, { recursive: true, mode: 0o700 });
    return sandbox;
  }

  get home(): string {
    return path.join(this.root, 'home');
  }

  get tmuxDir(): string {
    return path.join(this.root, 'tmux');
  }

  get registry(): string {
    return path.join(this.root, 'registry', 'agent-sessions.yaml');
  }

  /** Environment for anything this test runs: never the caller's HOME, TMUX or registry. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: this.home,
      TMUX_TMPDIR: this.tmuxDir,
      XDG_CACHE_HOME: path.join(this.root, 'cache'),
      MAM_BROKER_DIR: path.join(this.root, 'broker'),
      MAM_LOG_LEVEL: 'warn',
      // Hooks start no status watcher unless a test asks for one (MAM_WATCH: '1'): a watcher outlives its hook.
      MAM_WATCH: '0',
      // \`mam job event\` starts no job daemon unless a test asks for one (MAM_JOB_DAEMON: '1'): it outlives the call.
      MAM_JOB_DAEMON: '0',
      // A watcher announces approvals on the desktop and to attached tmux clients; only the notification tests want that.
      MAM_NOTIFY: 'off',
      // A hook gives up silently past its bounds (2 s of silent stdin, 5 s to record, 2 s per lock: src/config.ts
      // `hookTimeouts`), which a machine busy beside the suite can exceed; 60 s scales them all to minutes. A test of
      // the defaults themselves passes MAM_HOOK_TIMEOUT: undefined.
      MAM_HOOK_TIMEOUT: '60',
      LANG: 'C.UTF-8',
      ...extra,
    };
    return env;
  }

  /** A unique `-L` name; registered for cleanup. */
  serverName(tag = 's'): string {
    const name = `mamt-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.servers.add(name);
    return name;
  }

  async tmux(server: string, ...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-L', server, ...args], { env: this.env() });
    return stdout;
  }

  /** Starts a detached session running `command` (default: a long sleep) in `cwd`. */
  async startSession(server: string, name: string, cwd: string, command = 'sleep 100000'): Promise<number> {
    this.servers.add(server);
    await mkdir(cwd, { recursive: true });
    await this.tmux(server, 'new-session', '-d', '-s', name, '-c', cwd, command);
    const pid = await this.tmux(server, 'display-message', '-p', '-t', `=${name}:`, '#{pane_pid}');
    return Number(pid.trim());
  }

  /**
   * Kills the session. When that empties the server but for a `mam` control client's session, the client lets the
   * server go a moment later (src/reconcile/subscribe.ts, `releaseIfAlone`); on a loaded machine our `tmux
   * kill-session` may not have read its reply by then and fails with "server exited unexpectedly", though the
   * session is gone. That outcome is what was asked for; any other failure, or a session still there, throws.
   */
  async killSession(server: string, name: string): Promise<void> {
    try {
      await this.tmux(server, 'kill-session', '-t', `=${name}`);
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr;
      const serverWent = typeof stderr === 'string' && stderr.includes('server exited unexpectedly');
      const gone = await this.tmux(server, 'has-session', '-t', `=${name}`).then(() => false, () => true);
      if (!serverWent || !gone) throw error;
    }
  }

  async writeRegistry(text: string, file = this.registry): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  }

  /**
   * kill-server, and then the server's own pid if it is still there: after a clean full run a server of this
   * sandbox was once found alive, its folder deleted (the kill-server failed or raced, and its error is not ours
   * to see). Nothing a test started may outlive it.
   */
  private async killServer(server: string): Promise<void> {
    const env = this.env();
    const pid = Number((await run('tmux', ['-L', server, 'display-message', '-p', '#{pid}'], { env }).catch(() => ({ stdout: '' }))).stdout.trim());
    await run('tmux', ['-L', server, 'kill-server'], { env }).catch(() => undefined);
    // A zombie counts as gone (isAlive): this machine's init reaps an exited tmux server slowly.
    const id = Number.isInteger(pid) && pid > 0 ? processId(pid) : undefined;
    if (id && !(await waitFor(() => !isAlive(id), 5_000))) signalAll([id], 'SIGKILL');
  }

  async dispose(): Promise<void> {
    // Job daemons a test's \`mam job event\` started on demand (src/jobs/daemon.ts), by the pids they recorded; they
    // finish what they accepted and exit on SIGTERM.
    // A test that points MAM_JOB_DAEMON_DIR elsewhere keeps it beside the default, as cache/mam/jobd-<something>.
    const cache = path.join(this.root, 'cache', 'mam');
    const daemonDirs = (await readdir(cache).catch(() => [] as string[])).filter((name) => name.startsWith('jobd')).map((name) => path.join(cache, name));
    const pidFiles = (await Promise.all(daemonDirs.map(async (dir) => (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.pid')).map((name) => path.join(dir, name))))).flat();
    for (const file of pidFiles) {
      const pid = (JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as { pid?: number }).pid;
      if (pid !== undefined) await signalAndWait(processId(pid), 'SIGTERM', 10_000);
    }
    // The status watcher a test's hooks started on demand (`mam watch`), by the pid it recorded.
    // Its last writes (the MQTT publisher's record) come on the way out: removing the folder before it is gone let
    // them re-create the path, and /tmp kept mam-watch-* folders.
    await signalAndWait(runningWatcher(path.join(this.root, 'cache', 'mam', 'status')), 'SIGTERM', 10_000);
    // An embedded MQTT broker a test's `mam job …` started on demand would otherwise idle on for minutes. Looked for
    // last: a job daemon or watcher that publishes on its way out starts one, which then re-created the removed folder.
    const broker = await readFile(path.join(this.root, 'broker', 'broker.json'), 'utf8').catch(() => undefined);
    const brokerId = broker ? processId((JSON.parse(broker) as { pid: number }).pid) : undefined;
    if (brokerId) signalAll([brokerId], 'SIGTERM');
    await Promise.all([...this.servers].map((server) => this.killServer(server)));
    // Then anything else still running with this sandbox's HOME. A watcher that a hook launched just before its agent
    // was killed claims the status folder only once the one above is gone, and a worker's supervisor may still write
    // the Hermes board: either re-created the removed folder (/tmp kept mam-limit-watch-* and mam-lane-faults-*).
    await endProcessesOf(this.home);
    // A process that was just stopped may still be writing its last files: retry instead of failing on ENOTEMPTY.
    await rm(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

export interface MamResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `mam` CLI as a user would. */
export async function mam(args: readonly string[], env: NodeJS.ProcessEnv, cwd = REPO): Promise<MamResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAM, ...args], { env, cwd, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failure.code !== 'number') throw error;
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

/** Parses the single `--emit-diff` JSON line of a `--once` run. */
export function emitted(result: MamResult): { drifts: Array<Record<string, unknown>>; problems: Array<Record<string, unknown>>; written: boolean } {
  const lines = result.stdout.trim().split('\n').filter(Boolean);
  if (lines.length !== 1) throw new Error(`expected one JSON line, got ${lines.length}:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(lines[0]!) as ReturnType<typeof emitted>;
}
