/**
 * Where the benches run (bench/run.mjs runs only *.bench.ts, so this is no bench itself), removed with all they
 * started whatever the bench does: for the agent benches a throw-away sandbox (test/helpers/sandbox.ts) with one
 * private tmux server and the agent's executable first on PATH; for the watcher benches a temp folder and the
 * `mam watch` they started.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

/**
 * A temp folder for a bench that runs a `mam watch` of its own (`watcher`): `cleanup` stops that watcher (SIGTERM,
 * then waits for it: its last writes land in the folder) and removes the folder; a SIGINT or SIGTERM of the bench
 * does the same before it exits 130. Only the watcher the bench started is stopped.
 */
export class WatcherScratch {
  watcher: ChildProcess | undefined;

  private constructor(readonly root: string) {}

  static async create(prefix: string): Promise<WatcherScratch> {
    const scratch = new WatcherScratch(await mkdtemp(path.join(os.tmpdir(), prefix)));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void scratch.cleanup().finally(() => process.exit(130)));
    return scratch;
  }

  async cleanup(): Promise<void> {
    const watcher = this.watcher;
    if (watcher && watcher.exitCode === null) {
      const exited = new Promise((resolve) => watcher.once('exit', resolve));
      watcher.kill('SIGTERM');
      await exited;
    }
    await rm(this.root, { recursive: true, force: true });
  }
}
