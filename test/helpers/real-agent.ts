import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { waitFor } from '../../src/util/wait.js';

/**
 * What the real-CLI harnesses share (test/claude/, test/codex/, test/gemini/; docs/codex-gemini-harness.md): putting
 * the npm package's executable on PATH under the agent's own name, telling why it cannot run here, and ending a test's
 * tmux server without leaving an agent process behind.
 */

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
 * Ends a test's tmux server and waits for every process that ran in its panes to exit, then SIGKILLs stragglers (by
 * the pids tmux reported, nothing else): agents write their files on the way out, and removing their HOME under them
 * fails or leaves files behind.
 */
export async function stopPaneProcesses(tmux: (...args: string[]) => Promise<string>): Promise<void> {
  const pids = (await tmux('list-panes', '-a', '-F', '#{pane_pid}').catch(() => '')).split('\n').filter(Boolean).map(Number);
  await tmux('kill-server').catch(() => undefined);
  // A loaded machine can take this long for an agent to write its last lines and exit.
  await waitFor(() => !pids.some(isAlive), 60_000, 100);
  for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
}
