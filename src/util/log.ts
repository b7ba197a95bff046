import { createWriteStream } from 'node:fs';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Structured logs: pretty on a terminal, JSON otherwise, and always JSON to `MAM_LOG_FILE` when set.
 * Logs go to stderr so stdout stays clean for `--emit-diff` / `--json` output.
 */
export type { Logger };

export function createLogger(env: NodeJS.ProcessEnv, name = 'mam'): Logger {
  const level = env['MAM_LOG_LEVEL'] || 'info';
  const streams: pino.StreamEntry[] = [
    {
      level: level as pino.Level,
      stream: process.stderr.isTTY ? pretty({ destination: 2, sync: true, ignore: 'pid,hostname' }) : process.stderr,
    },
  ];
  const file = env['MAM_LOG_FILE'];
  if (file) streams.push({ level: level as pino.Level, stream: createWriteStream(file, { flags: 'a' }) });
  return pino({ name, level }, pino.multistream(streams));
}
