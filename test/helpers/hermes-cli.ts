import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { HERMES_STANDIN_BIN, runHermes } from '../hermes/standin.js';
import { MAM, REPO, type Sandbox } from './sandbox.js';

const run = promisify(execFile);

export interface HermesCall {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a `hermes` executable (the stand-in or a real one) as a person would; a non-zero exit is a result, not a throw. */
export async function hermesCli(bin: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<HermesCall> {
  try {
    const { stdout, stderr } = await run(bin, [...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

/** The parts of `hermes kanban show ID --json` the tests read. */
export interface ShownCard {
  task: { status: string };
  comments: { author: string; body: string }[];
  events: { kind: string; payload: unknown }[];
  runs: { id: number; outcome: string | null; worker_pid: number | null; ended_at: number | null }[];
}

/**
 * `hermes kanban show ID --json`, what the tests poll while they wait. From the stand-in it is read in this process:
 * the same code as its executable, without a process start (about 0.15 CPU s each; the suite polls hundreds of
 * times). A real Hermes (MAM_TEST_HERMES) is run.
 */
export async function showCard(bin: string, id: string, env: NodeJS.ProcessEnv): Promise<ShownCard> {
  const args = ['kanban', 'show', id, '--json'];
  const shown = path.resolve(bin) === HERMES_STANDIN_BIN ? await runHermes(args, env) : await hermesCli(bin, args, env);
  return JSON.parse(shown.stdout) as ShownCard;
}

/** Kills processes this test started (the workers a dispatcher spawned for its cards), by pid. */
export function killPids(pids: readonly number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** The `hermes` the tests drive: the stand-in (test/hermes), unless MAM_TEST_HERMES names a real Hermes launcher. */
export const HERMES = process.env['MAM_TEST_HERMES'] || path.join(REPO, 'test', 'hermes', 'hermes');

export interface HermesSetup {
  /** HERMES_HOME: the board and the profiles. */
  readonly home: string;
  /** On PATH first; holds `mam`, the HERMES_BIN the dispatcher spawns. */
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * A Hermes home in the sandbox, and `mam` as the dispatcher's HERMES_BIN. HERMES_BIN must be one executable: a shim
 * for the built CLI (npm would link the same). The workers' `hermes` is MAM_HERMES_BIN; a crashed worker is
 * reclaimed at once (no crash grace).
 */
export async function hermesSetup(box: Sandbox, extra: NodeJS.ProcessEnv = {}): Promise<HermesSetup> {
  const home = path.join(box.root, 'hermes');
  const bin = path.join(box.root, 'bin');
  await mkdir(bin, { recursive: true });
  await mkdir(home, { recursive: true });
  await writeFile(path.join(bin, 'mam'), `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
  await chmod(path.join(bin, 'mam'), 0o755);
  const env = box.env({
    PATH: `${bin}:${process.env['PATH']}`,
    HERMES_HOME: home,
    HERMES_BIN: path.join(bin, 'mam'),
    MAM_HERMES_BIN: HERMES,
    HERMES_KANBAN_CRASH_GRACE_SECONDS: '0',
    MAM_LOG_LEVEL: 'info',
    ...extra,
  });
  return { home, bin, env };
}
