import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { joinWords } from './shell-words.js';

/** The executable `command` resolves to on `PATH`, or undefined: checked before any tmux session is made. */
export function which(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = command.includes('/') ? [command] : (env['PATH'] ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * How another process (an agent's hook, an agent reporting a job event) should invoke one of this package's
 * commands: its bin name (`mam`, `mam-hook`) when that is on its PATH, else this Node and `script` by absolute
 * path, quoted as shell words.
 */
export function packageCommand(bin: string, env: NodeJS.ProcessEnv, script: string, nodePath = process.execPath): string {
  return which(bin, env) ? bin : joinWords([nodePath, script]);
}

/** How another process should invoke this CLI: `mam`, or this Node and `cliMain`. */
export function mamCommand(env: NodeJS.ProcessEnv, cliMain: string, nodePath = process.execPath): string {
  return packageCommand('mam', env, cliMain, nodePath);
}
