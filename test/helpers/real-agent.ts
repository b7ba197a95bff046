import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import { isAlive as isRunning, processTree, signalAll } from '../../src/proc/tree.js';
import { waitFor } from '../../src/util/wait.js';
import { mam, Sandbox } from './sandbox.js';

/**
 * What the real-CLI harnesses of test/claude/, test/codex/ and test/gemini/ share (docs/codex-gemini-harness.md): a
 * session's set-up (`startRealAgentSession`), putting the npm package's executable on PATH under the agent's own name,
 * telling why it cannot run here, and ending a test's tmux server without leaving an agent process behind.
 */

/**
 * Environment every real-agent session's `mam` calls get. A real agent saves its conversation and runs its exit hooks
 * (a `mam hook` process) between its exit keys and its end; at the load the suite runs at beside other work that took
 * Gemini over the 3 s `mam stop` allows by default, and the tests are of the exit keys, not of the machine's speed.
 */
export const REAL_AGENT_ENV = { MAM_STOP_GRACE: '60' } as const;

/** Running and not a zombie (an exited child stays one until its parent reaps it; kill(pid, 0) still succeeds then). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether `file` is an executable ELF or Mach-O binary (not a script stub). */
export function isNativeExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    const head = Buffer.alloc(4);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    const magic = head.toString('hex');
    return magic === '7f454c46' || ['feedfacf', 'cffaedfe', 'feedface', 'cefaedfe', 'cafebabe'].includes(magic);
  } catch {
    return false;
  }
}

/** The bound on an agent's `--version`: only a hang reaches it (Gemini's took over 60 s beside `npm run test:busy`). */
const VERSION_TIMEOUT_MS = 300_000;

/**
 * Why `argv` (an agent's `--version`) cannot run on this machine, or undefined when it prints `expected`: the reason a
 * real-CLI test skips with. A missing package, a platform without a build, or a binary the C library here cannot load
 * all end up here; on the CI machine (Debian, npm registry reachable) none of them should. A CLI that is only slow
 * to answer is no reason to skip: a timeout throws, and the test file fails saying so.
 */
export function cannotRun(argv: readonly string[], expected: RegExp, timeoutMs = VERSION_TIMEOUT_MS): string | undefined {
  const [command, ...args] = argv;
  if (command === undefined) return 'no command';
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw new Error(`${command} ${args.join(' ')} did not answer within ${timeoutMs / 1000} s: it hangs, or the machine is overloaded`);
  }
  if (result.error) return `${command} ${args.join(' ')}: ${result.error.message}`;
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.status !== 0 || !expected.test(output)) return `${command} ${args.join(' ')} exited ${result.status ?? result.signal}: ${output.slice(0, 300)}`;
  return undefined;
}

/** A `bin/` directory under `root` with `name` → `target`; returns a PATH that has it first. */
export async function binOnPath(root: string, name: string, target: string): Promise<string> {
  const bin = path.join(root, 'bin');
  await mkdir(bin, { recursive: true });
  await symlink(target, path.join(bin, name));
  return `${bin}:${process.env['PATH']}`;
}

/**
 * Ends a test's tmux server and waits for every process that ran in its panes to exit — each pane's whole process
 * tree, taken before the server goes: Gemini CLI runs in a child Node process and outlives the SIGHUP that ends a
 * tmux server — then SIGKILLs stragglers (those processes, checked with their start times, and nothing else). Agents
 * write their files on the way out, and removing their HOME under them fails or leaves files behind.
 */
export async function stopPaneProcesses(tmux: (...args: string[]) => Promise<string>): Promise<void> {
  const pids = (await tmux('list-panes', '-a', '-F', '#{pane_pid}').catch(() => '')).split('\n').filter(Boolean).map(Number);
  const tree = pids.flatMap((pid) => processTree(pid));
  await tmux('kill-server').catch(() => undefined);
  // A loaded machine can take this long for an agent to write its last lines and exit. isRunning checks the start
  // time too, so a reused pid is never taken for the agent.
  await waitFor(() => !tree.some(isRunning), 60_000, 100);
  signalAll(tree.filter(isRunning), 'SIGKILL');
}

/** The visible pane as text, wrapped lines joined (`capture-pane -p -J`). */
export async function capture(box: Sandbox, server: string, target: string): Promise<string> {
  return box.tmux(server, 'capture-pane', '-p', '-J', '-t', target);
}

/**
 * Polls the pane every 100 ms until `predicate(screen)` holds and returns that screen; at `timeoutMs` throws with the
 * last screen in the message, which is usually all it takes to see why.
 */
export async function waitForScreen(
  box: Sandbox,
  server: string,
  target: string,
  predicate: (screen: string) => boolean,
  timeoutMs = 30_000,
  what = 'screen condition',
): Promise<string> {
  let screen = '';
  const shown = await waitFor(
    async () => {
      try {
        screen = await capture(box, server, target);
        return predicate(screen);
      } catch (error) {
        // The pane may not exist yet or just went away; only give up at the deadline.
        screen = `(capture failed: ${(error as Error).message})`;
        return false;
      }
    },
    timeoutMs,
    100,
  );
  if (!shown) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- last screen ---\n${screen.replace(/\s+$/, '')}\n--- end ---`);
  return screen;
}

/**
 * Types `text` into an agent's input and submits it, as mam's delivery does (docs/pane.md, 'Verification and
 * retries'): wait for the text to show in the input (`composer` picks the input line out of a screen), press Enter,
 * and press it again while the text is still there. The TUIs take keys that arrive in a burst for a paste, in which an
 * Enter is a newline, and a loaded machine can deliver the typed text and the Enter as one burst.
 */
export async function submitLine(box: Sandbox, server: string, target: string, text: string, composer: (screen: string) => string): Promise<void> {
  await box.tmux(server, 'send-keys', '-t', target, '-l', text);
  await waitForScreen(box, server, target, (screen) => composer(screen).includes(text), 30_000, `${JSON.stringify(text)} in the input`);
  for (let attempt = 1; ; attempt += 1) {
    await box.tmux(server, 'send-keys', '-t', target, 'Enter');
    const taken = await waitForScreen(box, server, target, (screen) => !composer(screen).includes(text), 10_000, `${JSON.stringify(text)} to be submitted`).then(
      () => true,
      (error: unknown) => {
        if (attempt >= 3) throw error;
        return false;
      },
    );
    if (taken) return;
  }
}

/** What one agent's fixture (test/claude, test/codex, test/gemini) tells `startRealAgentSession`. */
export interface RealAgentAdapter<Script, Model extends { close(): Promise<void> }> {
  /** `mam create --agent <agent>`; the session is named `<workspace>-creator-<agent>`. */
  readonly agent: string;
  /** The scripted model server, answering `script`. */
  startModel(script: Script): Promise<Model>;
  /** Writes the agent's files under the sandbox's HOME; returns what its process needs in its environment (PATH first). */
  prepare(box: Sandbox, workspace: string, model: Model): Promise<Record<string, string>>;
  /** What follows `mam hooks install`. */
  readonly hooksInstall: readonly string[];
  /** After `mam create`: until the agent is idle at its prompt, answering what it asks first (`hooks`: they were installed). */
  ready(box: Sandbox, server: string, target: string, hooks: boolean): Promise<void>;
  /** Ends the test's tmux server and waits for the agent's processes (default: `stopPaneProcesses`). */
  stop?(tmux: (...args: string[]) => Promise<string>): Promise<void>;
}

export interface RealAgentOptions<Script> {
  /** Prefix of the sandbox's temp directory, so a leftover tells which test it came from. */
  readonly prefix: string;
  /** Tag of the private tmux server's name. */
  readonly serverTag: string;
  /** The workspace directory's name under the sandbox root; `mam create` names the session after it. */
  readonly workspace?: string;
  /** What the scripted model answers, given the workspace (a reply may name a path in it). */
  readonly script: (workspace: string) => Script;
  /** Added to the environment of everything the test runs. */
  readonly env?: NodeJS.ProcessEnv;
  /** `mam hooks install … --scope user` first, so the agent's real hooks run `mam hook`. */
  readonly hooks?: boolean;
  /** `mam create --agent <agent>` in the workspace, then wait for the agent's idle prompt. */
  readonly create?: boolean;
}

export interface RealAgentSession<Model> {
  readonly box: Sandbox;
  readonly model: Model;
  /** The sandbox's environment with the agent's variables and the real agent first on PATH. */
  readonly env: NodeJS.ProcessEnv;
  /** Only what the agent itself needs (the adapter's `prepare`), with PATH. */
  readonly agentEnv: Readonly<Record<string, string>>;
  /** The workspace, real path (agents record the resolved path; a symlinked tmp dir would not match). */
  readonly workspace: string;
  readonly server: string;
  /** The session `mam create` names after the workspace, and its tmux target. */
  readonly name: string;
  readonly target: string;
  /** Ends every process in the test's panes, then removes it all. */
  dispose(): Promise<void>;
}

/**
 * A real agent CLI against its scripted model server, in a throw-away sandbox and home: the set-up every real-agent
 * test shares, the agent's part from its adapter. Cleans up after itself if the set-up fails.
 */
export async function startRealAgentSession<Script, Model extends { close(): Promise<void> }>(adapter: RealAgentAdapter<Script, Model>, options: RealAgentOptions<Script>): Promise<RealAgentSession<Model>> {
  const box = await Sandbox.create(options.prefix);
  let model: Model | undefined;
  const server = box.serverName(options.serverTag);
  const tmux = (...args: string[]): Promise<string> => box.tmux(server, ...args);
  const dispose = async (): Promise<void> => {
    try {
      await (adapter.stop ?? stopPaneProcesses)(tmux);
      await model?.close();
    } finally {
      await box.dispose();
    }
  };
  try {
    const created = path.join(box.root, options.workspace ?? 'ws');
    await mkdir(created, { recursive: true });
    const workspace = await realpath(created);
    model = await adapter.startModel(options.script(workspace));
    const agentEnv = await adapter.prepare(box, workspace, model);
    const env = box.env({ ...agentEnv, ...REAL_AGENT_ENV, ...options.env });
    const name = `${path.basename(workspace)}-creator-${adapter.agent}`;
    const target = `=${name}:`;
    if (options.hooks) {
      const installed = await mam(['hooks', 'install', ...adapter.hooksInstall], env);
      if (installed.code !== 0) throw new Error(`mam hooks install failed (${installed.code}): ${installed.stderr}`);
    }
    if (options.create) {
      const made = await mam(['create', '--agent', adapter.agent, '--workspace', workspace, '--tmux-server', server, '--registry', box.registry], env);
      if (made.code !== 0) throw new Error(`mam create failed (${made.code}): ${made.stderr}`);
      await adapter.ready(box, server, target, options.hooks === true);
    }
    return { box, model, env, agentEnv, workspace, server, name, target, dispose };
  } catch (error) {
    await dispose().catch(() => undefined);
    throw error;
  }
}
