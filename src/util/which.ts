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
 * How another process (an agent's hook, an agent reporting a job event) should invoke this CLI: plain `mam`
 * when it is on that PATH, else this Node and `cliMain` by absolute path, quoted as shell words.
 */
export function mamCommand(env: NodeJS.ProcessEnv, cliMain: string, nodePath = process.execPath): string {
  return which('mam', env) ? 'mam' : joinWords([nodePath, cliMain]);
}
