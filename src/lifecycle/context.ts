import { ArtifactFs } from '../agents/fs.js';
import { artifactRoots, type ArtifactQuery } from '../agents/index.js';
import { homeDir, lockTimeoutMs, MAM_TMUX_SERVER, registryPath, tmuxBin } from '../config.js';
import { UsageError } from '../util/errors.js';
import type { LockOptions } from '../registry/lock.js';
import { TMUX_SERVER_PATTERN } from '../registry/patterns.js';
import type { TmuxOptions } from '../tmux/client.js';

/** What every lifecycle command needs from its surroundings, resolved once from flags and environment. */
export interface LifecycleContext {
  readonly registryFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly tmux: TmuxOptions;
  readonly artifacts: ArtifactQuery;
  readonly lock: LockOptions;
  readonly now: () => number;
  /** Progress for people, one line at a time (stderr for commands that print data on stdout). */
  readonly say: (line: string) => void;
  /**
   * The stage of a long wait (stop ladder, an agent's prompt, a pane spawn), for a live line on a terminal
   * (src/util/progress.ts); undefined ends it. The operation names its stage and never knows where it goes.
   */
  readonly progress: (stage: string | undefined) => void;
}

export function lifecycleContext(input: {
  registry: string | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
  say: (line: string) => void;
  progress?: ((stage: string | undefined) => void) | undefined;
}): LifecycleContext {
  return {
    registryFile: registryPath(input.registry, input.env, input.cwd),
    env: input.env,
    tmux: { bin: tmuxBin(input.env) },
    artifacts: { roots: artifactRoots(input.env, homeDir(input.env)), fs: new ArtifactFs() },
    lock: { timeoutMs: lockTimeoutMs(input.env) },
    now: Date.now,
    say: input.say,
    progress: input.progress ?? (() => undefined),
  };
}

/** The server new sessions go to: `--tmux-server`, else the first of `MAM_TMUX_SERVER`, else `mam`'s own. */
export function newSessionServer(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const server = flag ?? (env['MAM_TMUX_SERVER'] ?? '').split(',').map((name) => name.trim()).find(Boolean) ?? MAM_TMUX_SERVER;
  if (!TMUX_SERVER_PATTERN.test(server)) throw new UsageError(`tmux server ${JSON.stringify(server)} is not a socket name (1–64 of A–Z a–z 0–9 _ -)`);
  return server;
}

/** The command that shows a session to a person, as typed: a name that starts with `-` goes after `--`. */
export function attachHint(name: string): string {
  return `mam attach ${name.startsWith('-') ? `-- ${name}` : name}`;
}
