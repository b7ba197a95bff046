/**
 * The figures the benches report and how they time a command (bench/run.mjs runs only *.bench.ts, so this is no bench
 * itself): medians and p90 over a run's samples, a whole command timed from spawn to exit, and a wait that looks
 * every 20 ms, fine enough for a figure in tens of milliseconds.
 */
import { spawnSync } from 'node:child_process';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function p90(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
}

/** Runs `argv` to its end and times it; throws with its stderr unless it exits 0. */
export function timedRun(argv: readonly string[], env: NodeJS.ProcessEnv, input?: string): { ms: number; stdout: string } {
  const start = performance.now();
  const result = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, ...(input === undefined ? {} : { input }) });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed (${result.status}): ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

/** Waits for `condition`, looking every 20 ms; throws naming `what` after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
