import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import persistenceModule from 'aedes-persistence';
import { brokerDir } from '../config.js';
import { MamError } from '../util/errors.js';
import { waitFor } from '../util/wait.js';
import { writeFileAtomic } from '../registry/atomic.js';
import { withLock } from '../registry/lock.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { signalable } from '../proc/tree.js';

/**
 * The embedded MQTT broker: aedes (MQTT 3.1.1 only) on a loopback TCP port, run as `mam broker` — in the
 * foreground by hand, or detached on demand by {@link ensureEmbeddedBroker} with an idle exit.
 *
 * Files, in {@link brokerDir}: `broker.json` `{pid, port, url, started_at}` (written atomically once the
 * port listens, removed on exit), `broker.lock` (flock: one starter at a time), `broker.log` (the detached
 * broker's stdout/stderr).
 *
 * Persistence is in memory (aedes-persistence): sessions, queued QoS 1 messages and retained state live as
 * long as the broker process. A restarted broker has forgotten them; the job file is the record, and a
 * subscriber resyncs from it when it reconnects without a session (`sessionPresent=false`).
 */

/** aedes-persistence is CommonJS: at run time the default import is the factory; its .d.ts says ES default export. */
const memoryPersistence = ((persistenceModule as unknown as { default?: unknown }).default ?? persistenceModule) as () => unknown;

export interface BrokerRecord {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly started_at: string;
}

export interface RunBrokerOptions {
  /** 0 or undefined: any free port. */
  readonly port?: number | undefined;
  /** Default 127.0.0.1. The broker has no authentication: keep it on loopback. */
  readonly host?: string | undefined;
  /** Exit after this long with no connected client (counted from start and from each last disconnect). */
  readonly idleExitMs?: number | undefined;
  /** Where `broker.json` goes; undefined: no file (in-process use, tests). */
  readonly dir?: string | undefined;
  /** Aborting stops the broker (the CLI wires SIGINT/SIGTERM here). */
  readonly signal?: AbortSignal | undefined;
  /** One line per start/stop, for the log. */
  readonly log?: ((line: string) => void) | undefined;
}

export type BrokerExit = 'idle' | 'stopped';

export interface EmbeddedBroker {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Clients with an open TCP connection. */
  readonly connections: number;
  /** Settles once the broker has stopped (idle exit, signal or `close()`), files removed. */
  readonly done: Promise<BrokerExit>;
  close(): Promise<void>;
}

export const BROKER_FILE = 'broker.json';
export const BROKER_LOCK = 'broker.lock';
export const BROKER_LOG = 'broker.log';
export const MAX_CLIENT_ID_LENGTH = 256;
/** What {@link ensureEmbeddedBroker} passes as `--idle-exit`. */
export const DEFAULT_IDLE_EXIT_S = 300;


/** Starts the broker and returns once it listens (and `broker.json` is written, when `dir` is given). */
export async function startBroker(options: RunBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  const file = options.dir === undefined ? undefined : path.join(options.dir, BROKER_FILE);
  if (options.dir !== undefined) {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const other = await readBrokerRecord(options.dir);
    if (other && other.pid !== process.pid && signalable(other.pid) && (await canConnect(other.port, hostOf(other.url)))) {
      throw new MamError(`a broker is already running for ${options.dir} (pid ${other.pid}, ${other.url}); stop it first or use another --dir`);
    }
  }

  // Client ids like `mam-watch-j_<24 hex>` exceed aedes' default limit of 23 (the 3.1.1 minimum a broker must accept).
  const aedes = await Aedes.createBroker({ persistence: memoryPersistence(), maxClientsIdLength: MAX_CLIENT_ID_LENGTH });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    clearIdle();
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) armIdle();
    });
    socket.on('error', () => undefined);
    aedes.handle(socket);
  });
  // aedes reports per-client trouble as events; nothing to do about them but not crash.
  aedes.on('clientError', () => undefined);
  aedes.on('connectionError', () => undefined);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    const code = (error as NodeJS.ErrnoException).code;
    throw new MamError(`broker: cannot listen on ${host}:${options.port ?? 0} (${code ?? (error as Error).message})`, { cause: error });
  }
  const port = (server.address() as net.AddressInfo).port;
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let idleTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  let reason: BrokerExit = 'stopped';
  let resolveDone!: (exit: BrokerExit) => void;
  const done = new Promise<BrokerExit>((resolve) => (resolveDone = resolve));

  function clearIdle(): void {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
  }
  function armIdle(): void {
    clearIdle();
    if (options.idleExitMs === undefined || stopping) return;
    idleTimer = setTimeout(() => {
      reason = 'idle';
      log(`mam broker: no client for ${Math.round(options.idleExitMs! / 1000)} s, exiting`);
      void stop();
    }, options.idleExitMs);
  }
  const onAbort = (): void => void stop();

  function stop(): Promise<void> {
    stopping ??= (async () => {
      clearIdle();
      options.signal?.removeEventListener('abort', onAbort);
      // net.Server.close() waits for open sockets: close aedes (which ends its clients), then destroy what is left.
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (file !== undefined) await removeOwnRecord(file);
      log(`mam broker: stopped (${reason}), pid ${process.pid}`);
      resolveDone(reason);
    })();
    return stopping;
  }

  // Logged before broker.json appears: whoever waits for the file finds the line in the log.
  log(`mam broker: listening on ${url}, pid ${process.pid}${options.idleExitMs === undefined ? '' : `, idle exit ${Math.round(options.idleExitMs / 1000)} s`}`);
  if (file !== undefined) {
    const record: BrokerRecord = { pid: process.pid, port, url, started_at: new Date().toISOString() };
    try {
      await writeFileAtomic(file, `${JSON.stringify(record)}\n`);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  armIdle();
  if (options.signal?.aborted) void stop();
  else options.signal?.addEventListener('abort', onAbort);

  return {
    url,
    host,
    port,
    get connections() {
      return sockets.size;
    },
    done,
    close: stop,
  };
}

/** Runs the broker until the signal aborts or it has been idle for `idleExitMs`. */
export async function runBroker(options: RunBrokerOptions): Promise<BrokerExit> {
  const broker = await startBroker(options);
  return broker.done;
}

export async function readBrokerRecord(dir: string): Promise<BrokerRecord | undefined> {
  const text = await readFile(path.join(dir, BROKER_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const value = parseJsonOrUndefined(text) as Partial<BrokerRecord> | undefined;
  if (!value || typeof value.pid !== 'number' || typeof value.port !== 'number' || typeof value.url !== 'string') return undefined;
  return value as BrokerRecord;
}

export interface EnsureBrokerOptions {
  /** The started broker's `--idle-exit`, seconds (default 300). */
  readonly idleExitSeconds?: number;
  /** Bound on waiting for a started broker to write `broker.json` (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Overrides {@link brokerDir}. */
  readonly dir?: string;
}

/**
 * The embedded broker's URL: the running one's (live pid and a TCP connect that works), or a new
 * `mam broker --idle-exit 300 --dir <dir>` started detached. Under `broker.lock`, so racing callers
 * (processes or not) start one broker between them.
 */
export async function ensureEmbeddedBroker(env: NodeJS.ProcessEnv, options: EnsureBrokerOptions = {}): Promise<string> {
  const dir = options.dir ?? brokerDir(env);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    throw new MamError(`embedded broker: cannot create ${dir} (${error.code ?? error.message}); set MAM_BROKER_DIR to a writable directory`);
  });
  const running = await liveBroker(dir);
  if (running) return running.url;
  return withLock(
    path.join(dir, BROKER_LOCK),
    async () => {
      const started = await liveBroker(dir);
      if (started) return started.url;
      return (await spawnBroker(dir, env, options.idleExitSeconds ?? DEFAULT_IDLE_EXIT_S, startTimeoutMs)).url;
    },
    { timeoutMs: startTimeoutMs + 5_000 },
  );
}

/** The embedded broker's URL if one is running for `$MAM_BROKER_DIR`; never starts one (for those who only listen or read). */
export async function runningEmbeddedBroker(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const record = await readBrokerRecord(brokerDir(env));
  return record && signalable(record.pid) ? record.url : undefined;
}

async function liveBroker(dir: string): Promise<BrokerRecord | undefined> {
  const record = await readBrokerRecord(dir);
  if (!record || !signalable(record.pid)) return undefined;
  return (await canConnect(record.port, hostOf(record.url))) ? record : undefined;
}

function hostOf(url: string): string {
  try {
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  } catch {
    return '127.0.0.1';
  }
}

async function spawnBroker(dir: string, env: NodeJS.ProcessEnv, idleExitSeconds: number, timeoutMs: number): Promise<BrokerRecord> {
  const logFile = path.join(dir, BROKER_LOG);
  const logHandle = await open(logFile, 'a', 0o600);
  let exited: string | undefined;
  try {
    const child = spawn(process.execPath, [mamEntry(), 'broker', '--idle-exit', String(idleExitSeconds), '--dir', dir], {
      detached: true,
      stdio: ['ignore', logHandle.fd, logHandle.fd],
      env: { ...env, MAM_BROKER_DIR: dir },
    });
    child.once('error', (error) => (exited = error.message));
    child.once('exit', (code, signal) => (exited = signal ? `killed by ${signal}` : `exit code ${code}`));
    child.unref();
  } finally {
    await logHandle.close();
  }
  let record: BrokerRecord | undefined;
  await waitFor(async () => (record = await liveBroker(dir)) !== undefined || exited !== undefined, timeoutMs);
  if (record) return record;
  if (exited !== undefined) throw new MamError(`embedded broker failed to start (${exited}): ${await lastLine(logFile)}; log: ${logFile}`);
  throw new MamError(`embedded broker did not start within ${Math.round(timeoutMs / 1000)} s; log: ${logFile}`);
}

/** The built CLI: next to this module in dist/, or dist/ of the checkout when this runs from src/ (tests). */
function mamEntry(): string {
  const candidates = [new URL('../cli/main.js', import.meta.url), new URL('../../dist/cli/main.js', import.meta.url)].map((url) => fileURLToPath(url));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new MamError(`embedded broker: cannot find the mam CLI (looked at ${candidates.join(', ')}); run \`npm run build\``);
  return found;
}

async function lastLine(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').at(-1) || 'no output';
}

async function removeOwnRecord(file: string): Promise<void> {
  const record = await readBrokerRecord(path.dirname(file));
  if (record?.pid === process.pid) await unlink(file).catch(() => undefined);
}

/** Whether a TCP connect to host:port works, within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
