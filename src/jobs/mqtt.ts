import type { MqttClient } from 'mqtt';
import { MamError } from '../util/errors.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { JOB_ID_PATTERN, JobEvent, JobStateMessage } from './schema.js';
import { connectClient, seconds } from '../mqtt/connection.js';
import { TOPIC_PREFIX, type BrokerOptions } from '../mqtt/options.js';
import { eventsTopic, stateTopic, type EventMessage, type JobTransport } from './transport.js';

/**
 * The MQTT {@link JobTransport} (mqtt.js v5, speaking MQTT 3.1.1 — the embedded aedes knows nothing newer).
 *
 * - Connects through {@link connectClient} (src/mqtt/connection.ts) with a `persistent` session: QoS 1
 *   everywhere, `clean: false` with the caller's stable clientId, so the broker keeps this client's
 *   subscriptions and queues QoS 1 messages while it is away; the first connection is bounded and fails clearly.
 * - The `message` handler is attached right after `mqtt.connect()` returns, before any CONNACK: a broker
 *   flushes queued messages in the same read as the CONNACK. Messages that arrive before the caller has
 *   called `onEvent`/`onState` are buffered and handed over, in order, once it does.
 * - Reconnects forever with exponential backoff (250 ms doubling to 5 s); mqtt.js re-subscribes
 *   (`resubscribe: true`) when the broker has lost the session. `onConnection(true)` is reported only once
 *   that re-subscription is acknowledged, so "connected" means "events flow again"; a subscriber that sees
 *   `true` after a restart should resync from the job files (what was published during the gap is lost
 *   when the broker kept no session).
 * - Publishes resolve on PUBACK. While disconnected they are queued by mqtt.js and sent on reconnect; if no
 *   PUBACK arrives within `publishTimeoutMs` the promise rejects (the message may still be delivered later:
 *   at-least-once, `seq` tells duplicates apart).
 * - Without a URL, the embedded broker (src/mqtt/broker.ts) is used, started if need be; if it goes away
 *   while we are connected, the reconnect loop starts it again and follows it to its new port.
 */

export interface TransportTuning {
  /** Bound on the first connection, and mqtt.js' CONNACK timeout. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Bound on waiting for a PUBACK / SUBACK. Default 10 s. */
  readonly publishTimeoutMs?: number;
  /** Reconnect backoff: first delay, doubled per failed attempt up to the cap. Default 250 ms → 5 s. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** MQTT keepalive, seconds. Default 30. */
  readonly keepaliveS?: number;
}

export type TransportOptions = BrokerOptions & TransportTuning & { readonly clientId: string; readonly env: NodeJS.ProcessEnv };

export interface MqttJobTransport extends JobTransport {
  /** The broker, without credentials. */
  readonly url: string;
  /** Connected, and subscriptions in place. */
  readonly connected: boolean;
  /** Retained per-job state messages, for the jobs passed to `subscribe` (delivered on every subscribe). */
  onState(handler: (state: JobStateMessage) => void): void;
}

const DEFAULTS = { connectTimeoutMs: 5_000, publishTimeoutMs: 10_000, reconnectMinMs: 250, reconnectMaxMs: 5_000, keepaliveS: 30 };
/** Resubscription acknowledgement bound, after which "connected" is reported anyway. */
const RESUBSCRIBE_WAIT_MS = 5_000;
const BUFFER_LIMIT = 10_000;
const EVENT_TOPIC = new RegExp(`^${TOPIC_PREFIX}/jobs/([^/]+)/(events|state)$`);

export async function connectTransport(options: TransportOptions): Promise<MqttJobTransport> {
  const tuning = { ...DEFAULTS, ...definedOnly(options) };
  const events = new Channel<EventMessage>();
  const states = new Channel<JobStateMessage>();
  const connectionHandlers: ((connected: boolean) => void)[] = [];
  const topics = new Set<string>();
  let client!: MqttClient;
  let ready = false;
  let closed = false;
  let awaitingSuback: (() => void) | undefined;

  const setReady = (value: boolean): void => {
    if (value === ready || closed) return;
    ready = value;
    for (const handler of connectionHandlers) guard(() => handler(value));
  };

  const connection = connectClient({
    broker: options,
    env: options.env,
    embedded: 'start',
    session: { kind: 'persistent', clientId: options.clientId },
    connectTimeoutMs: tuning.connectTimeoutMs,
    keepaliveS: tuning.keepaliveS,
    reconnectMinMs: tuning.reconnectMinMs,
    reconnectMaxMs: tuning.reconnectMaxMs,
    stuckEnd: 'destroy',
    hooks: {
      created(made) {
        client = made;
        made.on('message', (topic, payload) => {
          const match = EVENT_TOPIC.exec(topic);
          if (!match) return;
          const jobId = match[1]!;
          const value = parseJsonOrUndefined(payload.toString('utf8'));
          if (match[2] === 'events') {
            const event = JobEvent.safeParse(value);
            if (event.success) events.emit({ jobId, event: event.data });
          } else {
            const state = JobStateMessage.safeParse(value);
            if (state.success) states.emit(state.data);
          }
        });
        made.on('packetreceive', (packet) => {
          if (packet.cmd === 'suback') awaitingSuback?.();
        });
        made.on('close', () => {
          awaitingSuback = undefined;
          setReady(false);
        });
        made.on('offline', () => setReady(false));
      },
      connected(_made, connack, again) {
        if (!again || connack.sessionPresent || topics.size === 0) {
          setReady(true);
          return;
        }
        // mqtt.js has just sent the re-SUBSCRIBE (its own 'connect' listener runs first); wait for its SUBACK.
        const timer = setTimeout(() => awaitingSuback?.(), RESUBSCRIBE_WAIT_MS).unref();
        awaitingSuback = () => {
          clearTimeout(timer);
          awaitingSuback = undefined;
          setReady(true);
        };
      },
    },
  });
  await connection.ready;

  /** Waits still unanswered: rejected by close(), so nobody waits for a broker we no longer talk to. */
  const pending = new Set<() => void>();
  const bounded = <T>(what: string, body: (done: (error?: Error | null, value?: T) => void) => void): Promise<T> => {
    if (closed) return Promise.reject(new MamError(`${what}: the transport to ${connection.display} is closed`));
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        pending.delete(abandon);
      };
      const abandon = (): void => {
        finish();
        reject(new MamError(`${what}: the transport to ${connection.display} was closed before the broker acknowledged it`));
      };
      const timer = setTimeout(() => {
        finish();
        const why = client.connected
          ? `broker ${connection.display} did not acknowledge it`
          : `not connected to broker ${connection.display}${connection.lastError ? ` (${connection.lastError})` : ''}`;
        reject(new MamError(`${what}: no acknowledgement within ${seconds(tuning.publishTimeoutMs)}, ${why}`));
      }, tuning.publishTimeoutMs);
      pending.add(abandon);
      body((error, value) => {
        finish();
        if (error) reject(new MamError(`${what} failed: ${error.message}`, { cause: error }));
        else resolve(value as T);
      });
    });
  };
  const publish = (topic: string, payload: unknown, retain: boolean): Promise<void> =>
    bounded<void>(`publish to ${topic}`, (done) => {
      client.publish(topic, JSON.stringify(payload), { qos: 1, retain }, (error) => done(error));
    });

  return {
    get url() {
      return connection.display;
    },
    get connected() {
      return ready;
    },
    async publishEvent(jobId, event) {
      checkJobId(jobId);
      return publish(eventsTopic(jobId), event, false);
    },
    async publishState(state) {
      checkJobId(state.job_id);
      return publish(stateTopic(state.job_id), state, true);
    },
    onEvent(handler) {
      events.on(handler);
    },
    onState(handler) {
      states.on(handler);
    },
    onConnection(handler) {
      connectionHandlers.push(handler);
    },
    async subscribe(jobId) {
      const id = jobId === '*' ? '+' : checkJobId(jobId);
      const wanted = [eventsTopic(id), stateTopic(id)];
      // Known before the SUBACK: mqtt.js keeps a subscription made while offline and sends it on reconnect.
      for (const topic of wanted) topics.add(topic);
      await bounded<void>(`subscribe to ${wanted.join(', ')}`, (done) => {
        client.subscribe(wanted, { qos: 1 }, (error, granted) => {
          const refused = granted?.filter((grant) => grant.qos === 128).map((grant) => grant.topic) ?? [];
          if (!error && refused.length > 0) done(new Error(`broker ${connection.display} refused the subscription to ${refused.join(', ')}`));
          else done(error);
        });
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await connection.close();
      for (const abandon of [...pending]) abandon();
    },
  };
}

/** Handlers registered late still get what arrived before them, in order; nothing is delivered re-entrantly. */
class Channel<T> {
  private readonly handlers: ((value: T) => void)[] = [];
  private readonly buffer: T[] = [];
  private scheduled = false;

  on(handler: (value: T) => void): void {
    this.handlers.push(handler);
    this.schedule();
  }

  emit(value: T): void {
    if (this.handlers.length === 0 || this.scheduled) {
      this.buffer.push(value);
      if (this.buffer.length > BUFFER_LIMIT) this.buffer.shift();
      return;
    }
    this.deliver(value);
  }

  private schedule(): void {
    if (this.scheduled || this.buffer.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const value of this.buffer.splice(0)) this.deliver(value);
    });
  }

  private deliver(value: T): void {
    for (const handler of this.handlers) guard(() => handler(value));
  }
}

/** A handler's exception must not break mqtt.js' packet processing (the PUBACK follows the handler). */
function guard(body: () => void): void {
  try {
    body();
  } catch (error) {
    process.emitWarning(`mam job transport: a handler threw: ${(error as Error).message ?? String(error)}`);
  }
}

function checkJobId(jobId: string): string {
  if (!JOB_ID_PATTERN.test(jobId)) throw new MamError(`${JSON.stringify(jobId)} is not a job id (j_ followed by 24 hex digits)`);
  return jobId;
}

function definedOnly(options: TransportTuning): Partial<typeof DEFAULTS> {
  const result: Partial<Record<keyof typeof DEFAULTS, number>> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) result[key] = value;
  }
  return result;
}
