import { readFile } from 'node:fs/promises';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { MamError } from '../util/errors.js';
import { ensureEmbeddedBroker, runningEmbeddedBroker } from './broker.js';
import type { BrokerOptions } from './options.js';

/**
 * How every MQTT client of mam reaches its broker. The job transport (src/jobs/mqtt.ts) and the status publisher
 * (./status-publisher.ts) connect through {@link connectClient}, one path that finds the broker (the configured URL,
 * else the embedded one of ./broker.ts), reads the TLS files, names the broker without credentials, describes a
 * failure in one line, reconnects with a doubling backoff and follows the embedded broker to its new port when it
 * restarts. The all-hosts reader (./all-hosts.ts) connects once and never retries; it shares {@link clientOptions}.
 *
 * What differs between the two long-lived clients is an option of that path, not a second copy of it: the
 * {@link Session} (how a connection is kept and retried), `embedded` (start the embedded broker or only use a
 * running one) and `stuckEnd`.
 */

/** Errors that say nothing answers at that address: no point waiting for the first connection. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT', 'ECONNRESET', 'EADDRNOTAVAIL']);
/** CONNACK return codes (3.1.1) and reason codes (5) that mean the credentials were not accepted. */
const CREDENTIALS_REFUSED = new Set([4, 5, 134, 135]);
/** Failed reconnects after which a persistent client looks for the embedded broker again (it may have moved). */
const FOLLOW_EMBEDDED_AFTER = 3;
/** Bound on a graceful end in close(). */
const CLOSE_WAIT_MS = 2_000;

/**
 * - `persistent` (the job transport): one mqtt.js client for the whole life, `clean: false` with the caller's
 *   stable id, so the broker keeps its subscriptions and queued QoS 1 messages while it is away. mqtt.js
 *   reconnects it in place — keeping its queue of unacknowledged publishes, re-subscribing when the broker lost
 *   the session — with the backoff set on it between attempts; after 3 failed attempts an embedded broker is
 *   looked up again and the client pointed at its port. The first connection must come within
 *   `connectTimeoutMs`: until then a failure is final (`ready` rejects with a one-line MamError, nothing is left
 *   running), except that an embedded broker that did not answer is looked up and tried once more — it may have
 *   exited (idle) between broker.json being read and the CONNECT.
 * - `fresh` (the status publisher): a new `clean: true` client with a new id per connection, the dead
 *   connection's queue dropped (mqtt.js would resend stale in-flight publishes on reconnect). It connects in the
 *   background and never gives up: every failure, first connection included, goes to `down` and is retried after
 *   the backoff, with the embedded broker looked up again each time.
 */
export type Session = { readonly kind: 'persistent'; readonly clientId: string } | { readonly kind: 'fresh'; readonly clientIdPrefix: string };

export interface ClientHooks {
  /** A new mqtt.js client, before its CONNACK can arrive: 'message' handlers go on here (docs/jobs.md, "What mam relies on in MQTT"). */
  readonly created?: (client: MqttClient) => void;
  /** Each CONNACK: the first (`again` false) and every reconnection. */
  readonly connected?: (client: MqttClient, connack: IConnackPacket, again: boolean) => void;
  /** `fresh` only: a connection closed or an attempt failed, and a retry is scheduled; `reason` is one line. */
  readonly down?: (reason: string) => void;
}

export interface ConnectOptions {
  readonly broker: BrokerOptions;
  readonly env: NodeJS.ProcessEnv;
  /** Without `broker.url`: start the embedded broker when none runs (`start`), or only use one that runs (`running`). */
  readonly embedded: 'start' | 'running';
  readonly session: Session;
  /** mqtt.js' CONNACK timeout; for a `persistent` session also the bound on the first connection. */
  readonly connectTimeoutMs: number;
  readonly keepaliveS: number;
  /** Backoff: the first delay, doubled per failed attempt up to the cap; back to the first on connecting. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /**
   * When a graceful end in close() has not finished within 2 s: `destroy` the socket (the job transport), or
   * call `end(true)` (the status publisher) — which mqtt.js ignores while an end is under way, so that socket
   * is left to close by itself.
   */
  readonly stuckEnd: 'destroy' | 'end';
  readonly hooks: ClientHooks;
}

export interface ManagedClient {
  /** The broker without credentials (`the embedded broker` until its URL is known); follows the embedded broker. */
  readonly display: string;
  /** The mqtt.js client now: `persistent`, the one for the whole life; `fresh`, this connection's (undefined between). */
  readonly client: MqttClient | undefined;
  /** A CONNACK came and the connection has not closed since. */
  readonly connected: boolean;
  /** Why the last attempt failed, short (an error code, else the message); undefined once connected. */
  readonly lastError: string | undefined;
  /** Settles at the first CONNACK. `persistent`: rejects (a MamError) when the first connection fails. `fresh`: never rejects. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** Thrown on a first connection that nothing answered; an embedded broker is then looked up and tried once more. */
class BrokerUnreachableError extends MamError {}

/** Connects at once (see {@link Session} for how it is kept), and keeps reconnecting until close(). */
export function connectClient(options: ConnectOptions): ManagedClient {
  const { broker, env, session, hooks } = options;
  const persistent = session.kind === 'persistent';
  /** No URL given: the embedded broker is looked up (and followed when it moves). */
  const embedded = broker.url === undefined;
  let display = broker.url === undefined ? 'the embedded broker' : displayUrl(broker.url);
  let client: MqttClient | undefined;
  let connected = false;
  let closed = false;
  let everConnected = false;
  let failures = 0;
  let lastError: string | undefined;
  /** The last error in full (describeFailure), for `down`. */
  let lastFailure: string | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let firstTimer: NodeJS.Timeout | undefined;
  let following = false;
  let retryUnreachable = persistent && embedded;
  let settle!: (error?: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });

  const backoff = (count: number): number => Math.min(options.reconnectMinMs * 2 ** count, options.reconnectMaxMs);

  function attempt(): void {
    void (async () => {
      let made: MqttClient;
      try {
        const url = await brokerUrl(broker, env, options.embedded);
        display = displayUrl(url);
        const own: IClientOptions = persistent
          ? {
              clientId: session.clientId,
              clean: false,
              keepalive: options.keepaliveS,
              reconnectPeriod: options.reconnectMinMs,
              // After the first connection, a refusal (e.g. "server unavailable" while a broker restarts) is retried too.
              reconnectOnConnackError: true,
              connectTimeout: options.connectTimeoutMs,
              resubscribe: true,
              queueQoSZero: false,
            }
          : { clientId: uniqueClientId(session.clientIdPrefix), clean: true, reconnectPeriod: 0, connectTimeout: options.connectTimeoutMs, keepalive: options.keepaliveS };
        const settings = await clientOptions(broker, own);
        if (closed) return;
        try {
          made = mqtt.connect(url, settings);
        } catch (error) {
          const message = (error as Error).message;
          startFailed(`${display}: ${message}`, new MamError(`broker URL ${display} is not usable (${message}); expected mqtt://host:port or mqtts://host:port`));
          return;
        }
      } catch (error) {
        startFailed(`${display}: ${(error as Error).message}`, error as Error);
        return;
      }
      wire(made);
    })();
  }

  /** No client came of the attempt (no broker URL, a TLS file, a URL mqtt.js refuses). */
  function startFailed(reason: string, error: Error): void {
    if (!persistent) return retryLater(reason);
    closed = true;
    settle(error);
  }

  /** Everything here is attached before the CONNACK can arrive: mqtt.connect() returned synchronously. */
  function wire(made: MqttClient): void {
    client = made;
    hooks.created?.(made);
    made.on('connect', (connack) => {
      if (client !== made) return;
      if (persistent) made.options.reconnectPeriod = options.reconnectMinMs;
      failures = 0;
      lastError = undefined;
      lastFailure = undefined;
      connected = true;
      const again = everConnected;
      everConnected = true;
      clearTimeout(firstTimer);
      settle();
      hooks.connected?.(made, connack, again);
    });
    made.on('error', (error) => {
      lastError = failureReason(error);
      lastFailure = describeFailure(display, error);
      if (persistent && !everConnected && client === made) {
        const message =
          error.message === 'connack timeout'
            ? `broker ${display} did not accept a connection within ${seconds(options.connectTimeoutMs)} (no CONNACK: is it an MQTT broker?)`
            : describeFailure(display, error);
        firstFailed(isUnreachable(error) ? new BrokerUnreachableError(message) : new MamError(message));
      }
    });
    made.on('close', () => {
      if (client !== made) return;
      connected = false;
      // A persistent client is reconnected in place by mqtt.js.
      if (persistent) return;
      client = undefined;
      // Drops mqtt.js' own queue of in-flight publishes: the caller sends what it still wants on the next connection.
      made.end(true);
      retryLater(lastFailure ?? `connection to ${display} closed`);
    });
    if (!persistent) return;
    made.on('reconnect', () => {
      if (client !== made) return;
      failures += 1;
      made.options.reconnectPeriod = backoff(failures);
      // An embedded broker that went away is nobody else's to restart; follow it to its (possibly new) port.
      if (embedded && everConnected && failures >= FOLLOW_EMBEDDED_AFTER && !following && !closed) follow(made);
    });
    firstTimer = setTimeout(
      () => firstFailed(new MamError(`broker ${display} did not accept a connection within ${seconds(options.connectTimeoutMs)}${lastError ? ` (${lastError})` : ''}`)),
      options.connectTimeoutMs,
    );
  }

  /** `persistent`, before the first CONNACK: give up, or try an embedded broker that did not answer once more. */
  function firstFailed(error: MamError): void {
    clearTimeout(firstTimer);
    const made = client;
    client = undefined;
    made?.end(true);
    if (error instanceof BrokerUnreachableError && retryUnreachable) {
      retryUnreachable = false;
      lastError = undefined;
      lastFailure = undefined;
      attempt();
      return;
    }
    closed = true;
    settle(error);
  }

  function follow(made: MqttClient): void {
    following = true;
    brokerUrl(broker, env, options.embedded)
      .then((url) => {
        const target = new URL(url);
        made.options.host = target.hostname;
        made.options.hostname = target.hostname;
        made.options.port = Number(target.port);
        display = displayUrl(url);
      })
      .catch((error: unknown) => (lastError = (error as Error).message))
      .finally(() => (following = false));
  }

  /** `fresh`: the next attempt, after the backoff. */
  function retryLater(reason: string): void {
    if (closed) return;
    hooks.down?.(reason);
    const delay = backoff(failures);
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      attempt();
    }, delay);
    // The caller's lifetime decides the process'; a pending retry does not keep it alive.
    retryTimer.unref();
  }

  attempt();
  return {
    get display() {
      return display;
    },
    get client() {
      return client;
    },
    get connected() {
      return connected;
    },
    get lastError() {
      return lastError;
    },
    ready,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      const current = client;
      client = undefined;
      connected = false;
      if (!current) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          if (options.stuckEnd === 'destroy') current.stream?.destroy();
          else current.end(true);
          resolve();
        }, CLOSE_WAIT_MS);
        // Graceful (DISCONNECT) when connected; a disconnected client would wait forever for its queue to drain.
        current.end(!current.connected, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** The broker's URL: the configured one, else the embedded broker's — started if need be, or only one that runs. */
async function brokerUrl(broker: BrokerOptions, env: NodeJS.ProcessEnv, embedded: 'start' | 'running'): Promise<string> {
  if (broker.url !== undefined) return broker.url;
  if (embedded === 'start') return ensureEmbeddedBroker(env);
  const url = await runningEmbeddedBroker(env);
  if (url === undefined) throw new Error('MAM_MQTT_URL is not set and the embedded broker is not running');
  return url;
}

/** The mqtt.js options every mam client has — MQTT 3.1.1 (docs/jobs.md: aedes speaks nothing newer), the credentials, the TLS files — over `own`. */
export async function clientOptions(broker: BrokerOptions, own: IClientOptions): Promise<IClientOptions> {
  const tls = await tlsFiles(broker);
  return {
    protocolVersion: 4,
    ...own,
    ...(broker.username === undefined ? {} : { username: broker.username }),
    ...(broker.password === undefined ? {} : { password: broker.password }),
    ...tls,
  };
}

/** A client id of its own for a clean session: `<prefix>-<pid>-<random>`. */
export function uniqueClientId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** The TLS files named in `options`, read; a file that cannot be read is a one-line MamError. */
async function tlsFiles(options: BrokerOptions): Promise<Pick<IClientOptions, 'ca' | 'cert' | 'key'>> {
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

/** The short form of a failure: its error code, else its message. */
function failureReason(error: Error): string {
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
function isUnreachable(error: Error): boolean {
  return UNREACHABLE.has(String((error as NodeJS.ErrnoException).code));
}
