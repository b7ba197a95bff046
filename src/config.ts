import path from 'node:path';
import { UsageError } from './errors.js';
import { TMUX_SERVER_PATTERN } from './registry/schema.js';
import type { TmuxServer } from './tmux/client.js';

/** Defaults and overrides from DESIGN.md "Files and defaults", resolved in one place. */
export const DEFAULT_REGISTRY = path.join('.hermes', 'agent-sessions.yaml');
/** `mam`'s own tmux socket: sessions it creates live here, out of the user's own tmux. */
export const MAM_TMUX_SERVER = 'mam';

export function registryPath(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return path.resolve(cwd, flag || env['MAM_REGISTRY'] || DEFAULT_REGISTRY);
}

/**
 * The tmux servers to watch besides those the registry names: `--tmux-server` (repeatable), else
 * `MAM_TMUX_SERVER` (comma-separated), else the default server and `mam`'s own.
 */
export function extraTmuxServers(flags: readonly string[] | undefined, env: NodeJS.ProcessEnv): TmuxServer[] {
  const given = flags?.length ? flags : (env['MAM_TMUX_SERVER'] ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  if (given.length === 0) return [null, MAM_TMUX_SERVER];
  for (const name of given) {
    if (!TMUX_SERVER_PATTERN.test(name)) {
      throw new UsageError(`tmux server ${JSON.stringify(name)} is not a socket name (1–64 of A–Z a–z 0–9 _ -)`);
    }
  }
  return [...new Set(given)];
}

export { homeDir } from './util/home.js';

export function tmuxBin(env: NodeJS.ProcessEnv): string {
  return env['MAM_TMUX_BIN'] || 'tmux';
}
