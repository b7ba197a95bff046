import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jobDaemonDir } from '../config.js';
import type { JobEventName } from './names.js';

/**
 * The CLI's side of the job daemon (src/jobs/daemon.ts), zod-free and MQTT-free: `mam job event` hands its event
 * over a unix socket and waits for the answer, which comes only once the event is in the job file (fsynced) and,
 * for `published: true`, acknowledged by the broker. When no daemon answers — none running, the socket refusing or
 * full, the daemon busy or too slow, or gone mid-answer — the caller records the event itself, as before the daemon
 * existed, with the same key (src/jobs/names.ts), so an event the daemon did record is found, not recorded twice.
 *
 * One line of JSON each way. Files: `<dir>/<name>.sock|.pid|.lock|.log`, `<name>` a digest of the broker settings,
 * so a call that publishes elsewhere ($MAM_MQTT_URL) never uses a daemon connected to another broker.
 */

/** What the CLI sends. The daemon checks it with src/jobs/daemon-request.ts. */
export interface DaemonRequest {
  readonly v: 1;
  /** The jobs directory, absolute. */
  readonly dir: string;
  readonly id: string;
  readonly event: JobEventName;
  readonly detail: string | null;
  readonly key: string;
}

/** The daemon's answer. */
export type DaemonReply =
  | { readonly recorded: { readonly seq: number }; readonly status: string; readonly duplicate: boolean; readonly published: boolean; readonly publish_error: string | null }
  | { readonly ignored: string }
  | { readonly error: string; readonly exit_code: number }
  | { readonly busy: true };

/** What happened to one event, from the daemon or recorded by the call itself. */
export type EventReport = Exclude<DaemonReply, { readonly busy: true }>;

/** Why the daemon was not used; `start`: nothing listens there, so one may be started for the next call. */
export interface NoDaemon {
  readonly unavailable: string;
  readonly start: boolean;
}

export interface DaemonFiles {
  readonly dir: string;
  readonly socket: string;
  readonly pid: string;
  readonly lock: string;
  readonly log: string;
}

/** A unix socket path longer than this does not fit sockaddr_un (108 bytes, with its NUL). */
const SOCKET_PATH_MAX = 107;
/** The answer can take a while on a loaded machine; past this the caller records the event itself (same key). */
const DEFAULT_REPLY_TIMEOUT_MS = 15_000;

export function daemonFiles(env: NodeJS.ProcessEnv): DaemonFiles {
  const broker = ['MAM_MQTT_URL', 'MAM_MQTT_USERNAME', 'MAM_MQTT_PASSWORD', 'MAM_MQTT_CA', 'MAM_MQTT_CERT', 'MAM_MQTT_KEY', 'MAM_BROKER_DIR'].map((name) => env[name] ?? '');
  const name = `jobd-${createHash('sha256').update(JSON.stringify(broker)).digest('hex').slice(0, 12)}`;
  const dir = jobDaemonDir(env);
  const at = (suffix: string): string => path.join(dir, `${name}${suffix}`);
  return { dir, socket: at('.sock'), pid: at('.pid'), lock: at('.lock'), log: at('.log') };
}

/** `MAM_JOB_DAEMON=0` turns the daemon off: every event is recorded by its own call, and none is started. */
export function daemonWanted(env: NodeJS.ProcessEnv): boolean {
  return env['MAM_JOB_DAEMON'] !== '0';
}

/** A fresh event key. */
export function newEventKey(): string {
  return randomBytes(12).toString('base64url');
}

export function replyTimeoutMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env['MAM_JOB_DAEMON_TIMEOUT']);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_REPLY_TIMEOUT_MS;
}

/** Sends one request to the daemon at `socket`; a DaemonReply, or why there was none. */
export function askDaemon(socket: string, request: DaemonRequest, timeoutMs: number): Promise<DaemonReply | NoDaemon> {
  if (socket.length > SOCKET_PATH_MAX) return Promise.resolve({ unavailable: `socket path too long for a unix socket: ${socket}`, start: false });
  return new Promise((resolve) => {
    const connection = net.createConnection(socket);
    let answer = '';
    let settled = false;
    const settle = (value: DaemonReply | NoDaemon): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => settle({ unavailable: `no answer within ${timeoutMs / 1000} s`, start: false }), timeoutMs);
    connection.setEncoding('utf8');
    connection.once('connect', () => connection.write(`${JSON.stringify(request)}\n`));
    connection.on('data', (chunk: string) => {
      answer += chunk;
      const end = answer.indexOf('\n');
      if (end >= 0) settle(parseReply(answer.slice(0, end)) ?? { unavailable: `an answer that is not one: ${JSON.stringify(answer.slice(0, 200))}`, start: false });
    });
    connection.once('end', () => settle({ unavailable: 'the daemon closed the connection without an answer', start: false }));
    connection.once('error', (error: NodeJS.ErrnoException) => {
      // ENOENT: no socket; ECONNREFUSED: a socket nobody listens on (a daemon that died). EAGAIN: its backlog is full.
      settle({ unavailable: `${error.code ?? error.message}`, start: error.code === 'ENOENT' || error.code === 'ECONNREFUSED' });
    });
  });
}

function parseReply(line: string): DaemonReply | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const reply = value as Record<string, unknown>;
  if (reply['busy'] === true) return { busy: true };
  if (typeof reply['ignored'] === 'string') return { ignored: reply['ignored'] };
  if (typeof reply['error'] === 'string' && typeof reply['exit_code'] === 'number') return { error: reply['error'], exit_code: reply['exit_code'] };
  const recorded = reply['recorded'] as { seq?: unknown } | null | undefined;
  if (typeof recorded?.seq === 'number' && typeof reply['status'] === 'string' && typeof reply['published'] === 'boolean') {
    const publishError = reply['publish_error'];
    return { recorded: { seq: recorded.seq }, status: reply['status'], duplicate: reply['duplicate'] === true, published: reply['published'], publish_error: typeof publishError === 'string' ? publishError : null };
  }
  return undefined;
}

/**
 * Starts `mam job daemon` detached, without waiting for it: this call records its own event meanwhile, the next
 * ones find the daemon. Racing starters are harmless: a daemon that finds another listening exits (daemon.ts).
 */
export async function startDaemon(env: NodeJS.ProcessEnv): Promise<void> {
  const entry = mamEntry();
  if (!entry) return;
  const files = daemonFiles(env);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const log = openSync(files.log, 'a', 0o600);
  try {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [entry, 'job', 'daemon'], { detached: true, stdio: ['ignore', log, log], env });
    child.once('error', () => undefined);
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** The built CLI: next to this module in dist/ (or one folder up from the bundle), or dist/ of the checkout from src/. */
function mamEntry(): string | undefined {
  const candidates = [new URL('../cli/main.js', import.meta.url), new URL('../../dist/cli/main.js', import.meta.url)].map((url) => fileURLToPath(url));
  return candidates.find((candidate) => existsSync(candidate));
}

/**
 * `mam job event`'s path: the daemon when one answers, else `direct` — the call records the event itself, as
 * before the daemon existed — with the same key either way. A call that found no daemon at all starts one for the
 * calls after it.
 */
export async function reportEvent(env: NodeJS.ProcessEnv, event: Omit<DaemonRequest, 'v' | 'key'>, direct: (key: string) => Promise<EventReport>): Promise<EventReport> {
  const key = newEventKey();
  if (!daemonWanted(env)) return direct(key);
  const reply = await askDaemon(daemonFiles(env).socket, { v: 1, ...event, key }, replyTimeoutMs(env));
  if ('unavailable' in reply) {
    if (reply.start) await startDaemon(env).catch(() => undefined);
    return direct(key);
  }
  if ('busy' in reply) return direct(key);
  return reply;
}
