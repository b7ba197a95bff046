/**
 * ccmanager 4.2.3 (npm `ccmanager`, installed by the bench itself: see PEERS) driven side by side with mam for bench/approval.bench.ts: its
 * ink TUI runs in a pane of the bench's private tmux server, in a git repository of the sandbox, with a throw-away
 * `~/.config/ccmanager/config.json` (where its global config manager reads it on Linux) holding
 *
 *   - one command preset: the real `claude` (claudeBin()), which ccmanager starts in a PTY of its own with its own
 *     environment — the pane's, which the caller gives the harness variables (claudeEnv());
 *   - status hooks for `busy`, `waiting_input` and `idle` (its names for working, needs approval and waiting), each
 *     `echo <state> $(date +%s%N) >> <states file>`.
 *
 * How ccmanager sees a state: every 100 ms it runs regexes over an xterm-headless copy of Claude's screen; `idle` is
 * believed only after that screen has stayed the same 1.5 s (its Claude state detector). On a change it runs
 * `git worktree list`, then the hook through a shell (its hook executor). The time a state is "seen"
 * here is the hook's `date`: the poll, the debounce, that git call and the hook's own spawn all count, as they do for
 * a ccmanager user whose hooks notify them. `date +%s%N` is the wall clock; it is turned into the bench's
 * performance.now() by subtracting performance.timeOrigin (the wall clock when the bench started, in ms with µs
 * precision): both read CLOCK_REALTIME, so a clock step during the run would skew the figures (none is expected in
 * a few minutes; /proc/uptime, the monotonic alternative, has only 10 ms resolution).
 *
 * The npm package's `bin/cli.js` only launches a prebuilt binary from a per-platform package, and the registry has
 * none for 4.2.3 (only `@kodaikabasawa/ccmanager-linux-x64@4.4.3`). The binary is the package's own `dist/` compiled
 * by Bun, which it needs at run time (its PTYs are Bun's built-in `Bun.Terminal`, no node-pty); so the
 * bench runs `dist/cli.js` with Bun from npm (`bun`), as the package's own `start` script does.
 *
 * Neither is a dev dependency: ccmanager 4.2.3 names optional platform packages the registry does not have, so a
 * lock file that holds it fails `npm ci` ("Missing: @kodaikabasawa/ccmanager-linux-x64@ from lock file"). The bench
 * installs both, pinned, into a folder of its own under node_modules/.cache the first time it runs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isAlive, processTree, signalAll } from '../src/proc/tree.js';
import { waitFor } from '../src/util/wait.js';
import { capture } from '../test/claude/tmux-screen.js';
import { isNativeExecutable } from '../test/helpers/real-agent.js';
import { REPO, type Sandbox } from '../test/helpers/sandbox.js';

const run = promisify(execFile);
/** Where the bench installs its peers, and which versions. */
const PEERS = path.join(REPO, 'node_modules', '.cache', 'mam-bench-peers');
const PEER_PACKAGES = ['ccmanager@4.2.3', 'bun@1.3.14'];
const CLI = path.join(PEERS, 'node_modules', 'ccmanager', 'dist', 'cli.js');

/**
 * Bun's native executable. `bun`'s postinstall (denied in package.json's allowScripts, like the other packages')
 * would move it from the platform package to `bun/bin/bun.exe`; without it, it stays in the platform package (the
 * baseline build is for CPUs without AVX2).
 */
function bunBin(): string | undefined {
  const platform = `${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}`;
  const candidates = [
    path.join(PEERS, 'node_modules', 'bun', 'bin', 'bun.exe'),
    path.join(PEERS, 'node_modules', '@oven', `bun-${platform}`, 'bin', 'bun'),
    path.join(PEERS, 'node_modules', '@oven', `bun-${platform}-baseline`, 'bin', 'bun'),
  ];
  return candidates.find(isNativeExecutable);
}

/** ccmanager's states, by the names its status hooks use. */
export type CcmState = 'busy' | 'waiting_input' | 'idle';

/** Installs the peers into PEERS unless they are there; what npm said when that failed. */
async function installPeers(): Promise<string | undefined> {
  if (existsSync(CLI) && bunBin() !== undefined) return undefined;
  await mkdir(PEERS, { recursive: true });
  // Scripts stay off, as for the project's own packages (package.json allowScripts): nothing here needs one.
  const args = ['install', '--prefix', PEERS, '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', ...PEER_PACKAGES];
  return run('npm', args, { timeout: 600_000 }).then(
    () => undefined,
    (error: Error & { stderr?: string }) => `npm ${args.join(' ')} failed: ${(error.stderr || error.message).trim().split('\n').slice(-3).join(' ')}`,
  );
}

/** Why ccmanager cannot run here, or undefined when it can (installing it first when it is not there yet). */
export async function ccmanagerUnavailable(): Promise<string | undefined> {
  const failed = await installPeers();
  if (failed) return `ccmanager could not be installed: ${failed}`;
  if (!existsSync(CLI)) return `ccmanager is not installed (no ${path.relative(REPO, CLI)})`;
  const bun = bunBin();
  if (bun === undefined) return `Bun, which ccmanager needs for its PTYs, is not installed under ${path.relative(REPO, PEERS)}`;
  const version = await run(bun, ['--version']).then(
    ({ stdout }) => stdout.trim(),
    (error: Error) => `(${error.message.split('\n')[0]})`,
  );
  if (!/^\d+\.\d+/.test(version)) return `Bun, which ccmanager needs for its PTYs, does not run here: ${bun} --version: ${version}`;
  return undefined;
}

export interface CcmanagerOptions {
  readonly box: Sandbox;
  /** The tmux server (`-L`) to run its pane on. */
  readonly server: string;
  /** A git repository whose main worktree it starts Claude in (the trust dialog accepted there). */
  readonly repo: string;
  /** The `claude` executable for its preset. */
  readonly claude: string;
  /** The pane's environment: what ccmanager hands to Claude. Its HOME gets ccmanager's config. */
  readonly env: Readonly<Record<string, string>>;
}

export class Ccmanager {
  private constructor(
    readonly target: string,
    private readonly states: string,
    private readonly box: Sandbox,
    private readonly server: string,
    private readonly pid: number,
  ) {}

  /** Writes the config, starts ccmanager in a new tmux session and picks the repository's main worktree (Enter on the first row). */
  static async start(options: CcmanagerOptions): Promise<Ccmanager> {
    const { box, server, repo, env } = options;
    const states = path.join(box.root, 'ccmanager-states');
    const hook = (state: CcmState) => ({ enabled: true, command: `echo ${state} $(date +%s%N) >> '${states}'` });
    const config = {
      commandPresets: { presets: [{ id: '1', name: 'Claude', command: options.claude, args: [] }], defaultPresetId: '1' },
      statusHooks: { busy: hook('busy'), waiting_input: hook('waiting_input'), idle: hook('idle') },
    };
    const configDir = path.join(env['HOME']!, '.config', 'ccmanager');
    await mkdir(configDir, { recursive: true });
    await writeFile(path.join(configDir, 'config.json'), JSON.stringify(config, null, 2));
    await writeFile(states, '');
    await run('git', ['init', '-q', '-b', 'main', repo]);
    await run('git', ['-C', repo, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '--allow-empty', '-m', 'bench']);
    const vars = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    await box.tmux(server, 'new-session', '-d', '-s', 'ccmanager', '-x', '200', '-y', '50', '-c', repo, ...vars, bunBin()!, '--no-env-file', CLI);
    const pid = Number((await box.tmux(server, 'display-message', '-p', '-t', '=ccmanager:', '#{pane_pid}')).trim());
    return new Ccmanager('=ccmanager:', states, box, server, pid);
  }

  /**
   * Starts Claude in the repository's main worktree: Enter on the menu's first row. The menu is drawn before ink
   * reads keys, and an Enter sent then is lost; so Enter is pressed again until the menu is gone, waiting longer
   * each time (a key that arrived after all would reach Claude's prompt, which the caller sees as not empty).
   */
  async pickWorktree(timeoutMs = 60_000): Promise<void> {
    const menu = async (): Promise<boolean> => (await capture(this.box, this.server, this.target).catch(() => '')).includes('Select a worktree');
    const deadline = performance.now() + timeoutMs;
    while (!(await menu())) {
      if (performance.now() > deadline) throw new Error(`ccmanager showed no worktree menu in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let patience = 1_000; await menu(); patience *= 2) {
      if (performance.now() > deadline) throw new Error(`ccmanager's worktree menu took no Enter in ${timeoutMs} ms`);
      await this.box.tmux(this.server, 'send-keys', '-t', this.target, 'Enter');
      for (const until = performance.now() + patience; performance.now() < until && (await menu()); ) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Where the states file ends now: states after this mark are the ones a step caused. */
  async mark(): Promise<number> {
    return Buffer.byteLength(await readFile(this.states, 'utf8'));
  }

  /** The performance.now() at which ccmanager's hook recorded `state` after `mark`, polling the file every 2 ms. */
  async stateAt(state: CcmState, mark: number, timeoutMs = 60_000): Promise<number> {
    const at = await this.stateWithin(state, mark, timeoutMs);
    if (at !== undefined) return at;
    throw new Error(`timed out after ${timeoutMs} ms waiting for ccmanager's ${state} hook; its hooks wrote:\n${await readFile(this.states, 'utf8')}`);
  }

  /** As stateAt, but undefined when the hook has not recorded `state` within `timeoutMs`. */
  async stateWithin(state: CcmState, mark: number, timeoutMs: number): Promise<number | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const text = (await readFile(this.states)).subarray(mark).toString('utf8');
      // Only whole lines: the hook's append may be read half-written.
      const line = text.split('\n').slice(0, -1).find((entry) => entry.startsWith(`${state} `));
      if (line !== undefined) return Number(BigInt(line.slice(state.length + 1)) / 1000n) / 1000 - performance.timeOrigin;
      if (performance.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /**
   * Ends ccmanager (SIGTERM: it ends its sessions) and waits for it and everything under it (its Claude) to exit,
   * SIGKILLing stragglers; each by pid and start time, so a reused pid is never hit.
   */
  async stop(): Promise<void> {
    const tree = processTree(this.pid);
    signalAll(tree.slice(0, 1), 'SIGTERM');
    await waitFor(() => !tree.some(isAlive), 30_000, 100);
    signalAll(tree, 'SIGKILL');
    await this.box.tmux(this.server, 'kill-session', '-t', '=ccmanager').catch(() => undefined);
  }
}
