import os from 'node:os';

/**
 * The user's home: `HOME`, else the account's. Its own module because `mam hook` needs it and must not load
 * config.ts's imports (the registry schema, and with it zod) on every agent event.
 */
export function homeDir(env: NodeJS.ProcessEnv): string {
  return env['HOME'] || os.homedir();
}
