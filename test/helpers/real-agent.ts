import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { isAlive as isRunning, processTree, signalAll } from '../../src/proc/tree.js';
import { waitFor } from '../../src/util/wait.js';
import type { Sandbox } from './sandbox.js';

/**
 * What the real-CLI harnesses of test/codex/ and test/gemini/ share (docs/codex-gemini-harness.md): putting
 * the npm package's executable on PATH under the agent's own name, telling why it cannot run here, and ending a test's
 * tmux server without leaving an agent process behind.
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

/**
 * Why `argv` (an agent's `--version`) cannot run on this machine, or undefined when it prints `expected`: the reason a
 * real-CLI test skips with. A missing package, a platform without a build, or a binary the C library here cannot load
 * all end up here; on the CI machine (Debian, npm registry reachable) none of them should.
 */
export function cannotRun(argv: readonly string[], expected: RegExp): string | undefined {
  const [command, ...args] = argv;
  if (command === undefined) return 'no command';
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
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
export async function waitForScreen(box: Sandbox, server: string, target: string, predicate: (screen: string) => boolean, timeoutMs: number, what: string): Promise<string> {
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
