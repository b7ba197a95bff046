import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import * as z from 'zod';
import { connectClient, type ManagedClient } from './connection.js';
import { brokerOptionsFromEnv, type BrokerOptions } from './options.js';
import { writeFileAtomic } from '../registry/atomic.js';
import { withLock } from '../registry/lock.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { waitFor } from '../util/wait.js';
import type { Facts } from '../facts/derive.js';
import {
  goneMessage,
  nameProblem,
  statusContent,
  statusHost,
  statusMessage,
  statusTopic,
  type AgentStatusMessage,
  type StatusUpdate,
} from './status-message.js';

/**
 * Publishes each session's status to its retained topic (see status-message.ts for the topic and its
 * lifecycle). The watcher calls {@link StatusPublisher.update} when a session's facts change and
 * {@link StatusPublisher.ended} when a session ends; neither ever throws or waits for the broker.
 *
 * - Connects lazily (first call), to `$MAM_MQTT_URL` or the embedded broker, by default started on demand
 *   like `mam job` does — otherwise the first status after a boot would have nowhere to go.
 * - Connects through {@link connectClient} (./connection.ts) with a `fresh` session: a new clean mqtt.js client
 *   per connection, retried in the background (250 ms doubling to 5 s). mqtt.js would resend a dead
 *   connection's in-flight QoS 1 publishes on reconnect, and a stale status resent after a newer one would
 *   become the retained one. Instead, on every (re)connect it sends each topic's latest message only, again —
 *   which also restores retained state a restarted embedded broker (memory persistence) has lost. Nothing is
 *   queued while the broker is down; that is logged once per outage.
 * - `seq` per (host, session) is allocated under a flock in `<status dir>/mqtt/published.json` and written
 *   before the message goes out, so a restarted publisher (or a second one on the host) continues above it.
 *   That file is in a subdirectory so a watcher of the status directory does not wake for it.
 * - An update whose content (all but updated_at and seq) equals the last one published for that topic is
 *   skipped: calling it again for unchanged facts changes nothing.
 */

export interface StatusPublisher {
  /** The host this publisher publishes as. */
  readonly host: string;
  /** Connected to the broker now. */
  readonly connected: boolean;
  /** Publishes the conversation's current status (facts with no agents: the session is gone, see ended()). */
  update(conversationId: string, facts: Facts): Promise<void>;
  /** The conversation ended: `gone` then a cleared topic, for every topic it currently owns. */
  ended(conversationId: string): Promise<void>;
  /**
   * Ends every topic this host has published and not ended whose conversation is not in `live`: for a
   * watcher that starts after sessions ended while nothing was running. Call it after the first update()
   * of each live session.
   */
  sweep(live: Iterable<string>): Promise<void>;
  /** Waits until the broker has acknowledged everything (true), or `timeoutMs` passed (false). */
  flush(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface StatusPublisherOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Where `mqtt/published.json` goes: the status directory (store.ts statusDir). */
  readonly dir: string;
  /** Default brokerOptionsFromEnv(env). */
  readonly broker?: BrokerOptions;
  /**
   * Without a broker URL: start the embedded broker when it is not running (default true), or only use
   * one that runs (false: nothing is published until something else, e.g. `mam job`, starts it).
   */
  readonly startEmbeddedBroker?: boolean;
  /** Default statusHost(env). */
  readonly host?: string;
  /** One line per connection change or refused name; never per retry. */
  readonly log?: (line: string) => void;
  readonly now?: () => number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly connectTimeoutMs?: number;
}

/** What is kept on disk per topic, so seq survives restarts and sweep() knows what is still retained. */
const PublishedTopic = z.object({
  host: z.string(),
  session: z.string(),
  seq: z.number().int().nonnegative(),
  conversation_id: z.string().nullable(),
  agent: z.string(),
  cwd: z.string().nullable(),
  /** Published and not yet ended. */
  live: z.boolean(),
  at: z.number(),
});
type PublishedTopic = z.infer<typeof PublishedTopic>;
const PublishedFile = z.object({ topics: z.record(z.string(), PublishedTopic) });
type PublishedFile = z.infer<typeof PublishedFile>;

export const PUBLISHED_FILE = path.join('mqtt', 'published.json');
/** Ended topics are remembered this long (their seq keeps counting if the session comes back), then forgotten. */
const FORGET_ENDED_MS = 7 * 86_400_000;

/** A topic's wanted state on the broker: its latest message, or (ending) `gone` followed by a clear. */
interface Wanted {
  readonly message: AgentStatusMessage;
  readonly ending: boolean;
  readonly content: string;
  /** Bumped per change, so an acknowledgement of an older send does not count for a newer one. */
  readonly version: number;
  acked: boolean;
}

export function createStatusPublisher(options: StatusPublisherOptions): StatusPublisher {
  const host = options.host ?? statusHost(options.env);
  const broker = options.broker ?? brokerOptionsFromEnv(options.env);
  const log = options.log ?? (() => undefined);
  const now = options.now ?? Date.now;
  const file = path.join(options.dir, PUBLISHED_FILE);
  const minMs = options.reconnectMinMs ?? 250;
  const maxMs = options.reconnectMaxMs ?? 5_000;
  const hostProblem = nameProblem(host);
  if (hostProblem) log(`status publisher: host name ${JSON.stringify(host)} cannot be used (${hostProblem}); set MAM_HOST; nothing is published`);

  const wanted = new Map<string, Wanted>();
  /** In-memory seq, for when the file cannot be written (logged once): still grows within this process. */
  const memorySeq = new Map<string, number>();
  let version = 0;
  /** Made on the first status to publish; from then on it reconnects by itself until close(). */
  let connection: ManagedClient | undefined;
  let closed = false;
  let reportedDown = false;
  let fileProblemLogged = false;
  let chain: Promise<void> = Promise.resolve();

  /** Every operation runs after the previous one: seq allocation and `wanted` never interleave. */
  const serial = (body: () => Promise<void>): Promise<void> => {
    const run = chain.then(body).catch((error: unknown) => log(`status publisher: ${(error as Error).message ?? String(error)}`));
    chain = run;
    return run;
  };

  async function allocate(topic: string, entry: Omit<PublishedTopic, 'seq' | 'at'>): Promise<number> {
    const at = now();
    try {
      await mkdir(path.dirname(file), { recursive: true });
      return await withLock(
        `${file}.lock`,
        async () => {
          const state = await readPublished(file);
          const seq = Math.max(state.topics[topic]?.seq ?? 0, memorySeq.get(topic) ?? 0) + 1;
          state.topics[topic] = { ...entry, seq, at };
          for (const [name, known] of Object.entries(state.topics)) if (!known.live && at - known.at > FORGET_ENDED_MS) delete state.topics[name];
          await writeFileAtomic(file, `${JSON.stringify(state)}\n`);
          memorySeq.set(topic, seq);
          return seq;
        },
        { timeoutMs: 5_000 },
      );
    } catch (error) {
      if (!fileProblemLogged) log(`status publisher: cannot record sequence numbers in ${file} (${(error as Error).message}); counting in memory`);
      fileProblemLogged = true;
      const seq = (memorySeq.get(topic) ?? 0) + 1;
      memorySeq.set(topic, seq);
      return seq;
    }
  }

  function want(topic: string, message: AgentStatusMessage, ending: boolean, content: string): void {
    version += 1;
    const entry: Wanted = { message, ending, content, version, acked: false };
    wanted.set(topic, entry);
    const current = connection?.client;
    if (connection?.connected && current) send(current, topic, entry);
    else connect();
  }

  function send(target: MqttClient, topic: string, entry: Wanted): void {
    const acknowledged = (error?: Error): void => {
      // An error means this connection died: the next one sends the topic's latest again.
      if (error || wanted.get(topic)?.version !== entry.version) return;
      if (entry.ending) wanted.delete(topic);
      else entry.acked = true;
    };
    target.publish(topic, JSON.stringify(entry.message), { qos: 1, retain: true }, entry.ending ? undefined : acknowledged);
    // Same connection, same order: the clear lands after `gone`, and the topic ends up empty.
    if (entry.ending) target.publish(topic, '', { qos: 1, retain: true }, acknowledged);
  }

  function connect(): void {
    if (closed || connection || hostProblem) return;
    const managed = connectClient({
      broker,
      env: options.env,
      embedded: options.startEmbeddedBroker === false ? 'running' : 'start',
      session: { kind: 'fresh', clientIdPrefix: 'mam-status' },
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      keepaliveS: 30,
      reconnectMinMs: minMs,
      reconnectMaxMs: maxMs,
      stuckEnd: 'end',
      hooks: {
        connected(made) {
          if (reportedDown) log(`status publisher: connected to ${managed.display} again; publishing the latest status of ${wanted.size} session(s)`);
          reportedDown = false;
          for (const [topic, entry] of wanted) send(made, topic, entry);
        },
        down(reason) {
          if (!reportedDown) log(`status publisher: ${reason}; the latest status is published when the broker is back`);
          reportedDown = true;
        },
      },
    });
    connection = managed;
  }

  async function endTopic(topic: string, last: Pick<StatusUpdate, 'host' | 'session' | 'conversation_id' | 'agent' | 'cwd'>): Promise<void> {
    const gone = goneMessage(last, now());
    const seq = await allocate(topic, { host: last.host, session: last.session, conversation_id: last.conversation_id, agent: last.agent, cwd: last.cwd, live: false });
    want(topic, { ...gone, seq }, true, statusContent(gone));
  }

  /** Topics the conversation currently owns: in memory (this run) and on disk (earlier runs). */
  async function ownedTopics(conversationId: string): Promise<Map<string, Pick<StatusUpdate, 'host' | 'session' | 'conversation_id' | 'agent' | 'cwd'>>> {
    const owned = new Map<string, Pick<StatusUpdate, 'host' | 'session' | 'conversation_id' | 'agent' | 'cwd'>>();
    for (const [topic, known] of Object.entries((await readPublished(file)).topics)) {
      if (known.live && known.host === host && known.conversation_id === conversationId) owned.set(topic, known);
    }
    for (const [topic, entry] of wanted) {
      if (entry.message.conversation_id !== conversationId) owned.delete(topic);
      else if (!entry.ending) owned.set(topic, entry.message);
      else owned.delete(topic);
    }
    return owned;
  }

  return {
    host,
    get connected() {
      return connection?.connected ?? false;
    },
    update(conversationId, facts) {
      return serial(async () => {
        if (hostProblem || closed) return;
        const update = statusMessage({ host, conversationId, facts, now: now() });
        if (update.status === 'gone') {
          for (const [topic, last] of await ownedTopics(conversationId)) await endTopic(topic, last);
          return;
        }
        const problem = nameProblem(update.session);
        if (problem) {
          log(`status publisher: session name ${JSON.stringify(update.session)} cannot be used (${problem}); not published`);
          return;
        }
        const topic = statusTopic(host, update.session);
        // The conversation moved to another topic (its mam session became known): end the old one.
        for (const [other, last] of await ownedTopics(conversationId)) if (other !== topic) await endTopic(other, last);
        const content = statusContent(update);
        const current = wanted.get(topic);
        if (current && !current.ending && current.content === content) return;
        const seq = await allocate(topic, { host, session: update.session, conversation_id: conversationId, agent: update.agent, cwd: update.cwd, live: true });
        want(topic, { ...update, seq }, false, content);
      });
    },
    ended(conversationId) {
      return serial(async () => {
        if (hostProblem || closed) return;
        for (const [topic, last] of await ownedTopics(conversationId)) await endTopic(topic, last);
      });
    },
    sweep(live) {
      const keep = new Set(live);
      return serial(async () => {
        if (hostProblem || closed) return;
        const candidates = new Map<string, Pick<StatusUpdate, 'host' | 'session' | 'conversation_id' | 'agent' | 'cwd'>>();
        for (const [topic, known] of Object.entries((await readPublished(file)).topics)) if (known.live && known.host === host) candidates.set(topic, known);
        for (const [topic, entry] of wanted) {
          if (entry.ending) candidates.delete(topic);
          else candidates.set(topic, entry.message);
        }
        for (const [topic, last] of candidates) if (last.conversation_id === null || !keep.has(last.conversation_id)) await endTopic(topic, last);
      });
    },
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      await Promise.race([chain, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
      return waitFor(() => [...wanted.values()].every((entry) => entry.acked), Math.max(0, deadline - Date.now()), 20);
    },
    async close() {
      if (closed) return;
      await chain;
      closed = true;
      await connection?.close();
    },
  };
}

/** The watcher's `onChange`, publishing: facts → update(), undefined (the session ended) → ended(). */
export function publishOnChange(publisher: StatusPublisher): (sessionId: string, facts: Facts | undefined) => Promise<void> {
  return (sessionId, facts) => (facts ? publisher.update(sessionId, facts) : publisher.ended(sessionId));
}

async function readPublished(file: string): Promise<PublishedFile> {
  const parsed = PublishedFile.safeParse(parseJsonOrUndefined(await readFile(file, 'utf8').catch(() => '')));
  return parsed.success ? parsed.data : { topics: {} };
}
