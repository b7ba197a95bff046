import { ArtifactFs } from '../agents/fs.js';
import { artifactRoots } from '../agents/index.js';
import { extraTmuxServers, homeDir, lockTimeoutMs, tmuxBin } from '../config.js';
import type { PassOptions } from './pass.js';
import { CachedRegistryReader } from '../registry/store.js';

/** One place that turns flags and environment into what a reconcile pass needs. */
export function buildPassOptions(input: {
  readonly registryFile: string;
  readonly tmuxServers: readonly string[] | undefined;
  readonly dryRun: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Report sessions other registries own (`--verbose`). */
  readonly verbose?: boolean;
}): PassOptions {
  return {
    registryFile: input.registryFile,
    dryRun: input.dryRun,
    ...(input.verbose ? { reconcile: { verbose: true } } : {}),
    observe: {
      extraServers: extraTmuxServers(input.tmuxServers, input.env),
      tmux: { bin: tmuxBin(input.env) },
      // One ArtifactFs for the life of the process: its transcript-head cache spans passes.
      artifacts: { roots: artifactRoots(input.env, homeDir(input.env)), fs: new ArtifactFs() },
    },
    // The same bound the lifecycle commands use: without it a pass (and so the monitor) waited the default 30 s.
    lock: { timeoutMs: lockTimeoutMs(input.env) },
    now: Date.now,
    reader: new CachedRegistryReader(),
  };
}
