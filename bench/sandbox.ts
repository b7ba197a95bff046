/**
 * What the agent benches share (bench/run.mjs runs only *.bench.ts, so this is no bench itself): a throw-away sandbox
 * (test/helpers/sandbox.ts) with one private tmux server and an agent's executable first on PATH, removed with all it
 * started whatever the bench does; the median they report; and a wait that looks every 20 ms, fine enough for a
 * figure in tens of milliseconds.
 */
import { binOnPath } from '../test/helpers/real-agent.js';
import { Sandbox } from '../test/helpers/sandbox.js';

export interface BenchSandbox {
  readonly box: Sandbox;
  /** The private tmux server (`-L` name) the bench's sessions run on. */
  readonly server: string;
  /** PATH with the agent's executable first. */
  readonly path: string;
}

/** Runs `bench` in a new sandbox where `agent.name` on PATH is `agent.target`; disposes of the sandbox after it. */
export async function inBenchSandbox<T>(prefix: string, agent: { readonly name: string; readonly target: string }, bench: (world: BenchSandbox) => Promise<T>): Promise<T> {
  const box = await Sandbox.create(prefix);
  const server = box.serverName('bench');
  try {
    return await bench({ box, server, path: await binOnPath(box.root, agent.name, agent.target) });
  } finally {
    await box.tmux(server, 'kill-server').catch(() => undefined);
    await box.dispose();
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Waits for `condition`, looking every 20 ms; throws naming `what` after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
