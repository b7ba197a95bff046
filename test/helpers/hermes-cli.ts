import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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

export async function showCard(bin: string, id: string, env: NodeJS.ProcessEnv): Promise<ShownCard> {
  return JSON.parse((await hermesCli(bin, ['kanban', 'show', id, '--json'], env)).stdout) as ShownCard;
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
