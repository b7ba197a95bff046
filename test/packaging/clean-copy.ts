import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, lstat, mkdir, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import { REPO } from '../helpers/sandbox.js';

/**
 * What the packaging tests build and pack: the repository as a fresh clone of the next commit would have it — every
 * file git tracks or would add (`git ls-files --cached --others --exclude-standard`, so no dist/, no build stamp, no
 * coverage), as it is in the working tree — with node_modules linked to this checkout's, which `npm ci` installed.
 * Linking keeps the tests off the network for the build (only the global install needs the registry) and is what CI
 * has: a clean clone plus `npm ci`.
 */
export async function cleanCopy(into: string): Promise<readonly string[]> {
  const listed = await run('git', ['-C', REPO, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, env: process.env });
  if (listed.code !== 0) throw new Error(`git ls-files failed in ${REPO} (the packaging tests need a git checkout): ${listed.stderr}`);
  const copied: string[] = [];
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    // node_modules is a symlink in a worktree, which a trailing-slash ignore rule does not match.
    if (file === 'node_modules' || file.startsWith('node_modules/')) continue;
    const stat = await lstat(path.join(REPO, file)).catch(() => undefined);
    if (!stat?.isFile()) continue; // deleted in the working tree, or not a regular file
    await mkdir(path.dirname(path.join(into, file)), { recursive: true });
    await copyFile(path.join(REPO, file), path.join(into, file));
    copied.push(file);
  }
  await symlink(await realpath(path.join(REPO, 'node_modules')), path.join(into, 'node_modules'));
  return copied;
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const running = new Set<ChildProcess>();

/**
 * Runs a command to its end. Each runs in its own process group, so {@link stopAll} can end what it started (npm's
 * lifecycle scripts, tsc under them) if a test gives up on it.
 */
export function run(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.once('close', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its input must not fail the test with EPIPE; its exit code says enough.
    child.stdin?.on('error', () => undefined).end(options.input);
  });
}

/** Ends the process groups of commands still running (a test that timed out), by the pids this module started. */
export function stopAll(): void {
  for (const child of running) {
    if (child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * An environment with nothing of the caller's npm or home: npm, when it runs `npm test`, exports its own settings
 * (prefix, cache, userconfig) as npm_config_* variables, which would point a nested npm at the real ones. Only the
 * PATH, the locale and what reaching a registry through a proxy or a private CA needs are passed on.
 */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const passed = ['PATH', 'LANG', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR'];
  const env: NodeJS.ProcessEnv = Object.fromEntries(passed.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])));
  return { ...env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), XDG_CONFIG_HOME: path.join(home, '.config'), ...extra };
}
