import { readFile } from 'node:fs/promises';
import type { IClientOptions } from 'mqtt';
import { MamError } from '../util/errors.js';
import type { BrokerOptions } from './options.js';

/**
 * What every MQTT client of mam shares: the job transport (src/jobs/mqtt.ts), the status publisher and the
 * all-hosts reader (both in this folder) read the same TLS files and describe a failed connection the same way.
 */

/** Errors that say nothing answers at that address: no point waiting for the first connection. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT', 'ECONNRESET', 'EADDRNOTAVAIL']);
/** CONNACK return codes (3.1.1) and reason codes (5) that mean the credentials were not accepted. */
const CREDENTIALS_REFUSED = new Set([4, 5, 134, 135]);

/** The TLS files named in `options`, read; a file that cannot be read is a one-line MamError. */
export async function tlsFiles(options: BrokerOptions): Promise<Pick<IClientOptions, 'ca' | 'cert' | 'key'>> {
  const files: Pick<IClientOptions, 'ca' | 'cert' | 'key'> = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const file = options[name];
    if (file === undefined) continue;
    files[name] = await readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new MamError(`broker TLS ${name} file ${file}: cannot read it (${error.code ?? error.message})`);
    });
  }
  return files;
}

/** The URL without user:password. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

export function failureReason(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : error.message;
}

/** One line for a connection that failed: refused credentials, unreachable, TLS, or the client's message. */
export function describeFailure(display: string, error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') {
    const reason = error.message.replace(/^Connection refused:\s*/i, '');
    return CREDENTIALS_REFUSED.has(code)
      ? `broker ${display} refused the credentials (${reason})`
      : `broker ${display} refused the connection (${reason})`;
  }
  if (typeof code === 'string' && UNREACHABLE.has(code)) return `broker ${display} unreachable: ${code}`;
  if (typeof code === 'string' && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO/.test(code)) return `broker ${display}: TLS failed (${code}: ${error.message})`;
  return `broker ${display}: ${error.message}`;
}

/** A duration for a message: `250 ms`, `5 s`. */
export function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** Whether `error` says nothing answers at the broker's address (refused, unknown host, unreachable). */
export function isUnreachable(error: Error): boolean {
  return UNREACHABLE.has(String((error as NodeJS.ErrnoException).code));
}
