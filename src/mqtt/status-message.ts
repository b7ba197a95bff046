import os from 'node:os';
import * as z from 'zod';
import { TOPIC_PREFIX } from './options.js';
import type { Facts } from '../facts/derive.js';
import { sessionStatus } from '../facts/derive.js';
import { AgentStatus } from '../facts/schema.js';

/**
 * The retained per-session status topic, `mam/v1/<host>/agents/<session>/status` (issue 6, part 5): what
 * `mam status` shows locally, for every machine that shares a broker. Pure: schema, topic names, the
 * message built from fact files, and how a reader folds the messages it receives. No I/O here.
 *
 * Lifecycle of one topic: retained status messages (QoS 1) with a per-(host, session) `seq` that only
 * grows; when the session ends, a retained `gone` message, then an empty retained payload that clears
 * the topic. Live subscribers see `gone`; a subscriber that arrives later finds nothing. A reader keeps
 * the highest seq per (host, session), drops `gone` ones, and forgets a key once it is gone or cleared.
 */

/** What a session is doing; `gone` only in the last message of a session that ended. */
export const PublishedStatus = z.enum([...AgentStatus.options, 'gone']);
export type PublishedStatus = z.infer<typeof PublishedStatus>;

/** Host and session names: non-empty, bounded (a topic is at most 65 535 bytes), encoded into the topic. */
const Name = z.string().min(1).max(255);

export const AgentStatusMessage = z.object({
  /** `$MAM_HOST`, else os.hostname(). */
  host: Name,
  /** The mam registry session (SessionFact.mam_session) when the agent runs in one, else the conversation id. */
  session: Name,
  conversation_id: z.string().nullable(),
  /** claude, codex, gemini, … (`unknown` when the session fact is missing). */
  agent: z.string(),
  /** The session's status: the most pressing of its agents' (needs_approval > working > waiting). */
  status: PublishedStatus,
  /** Per agent (`main`, or a subagent's id): its own status. */
  agents: z.record(z.string(), AgentStatus),
  /** The earliest of the agents' approval waits, while one needs approval. */
  needs_approval_since: z.string().nullable(),
  cwd: z.string().nullable(),
  /** When this status was published (it changed, or the session was first seen). */
  updated_at: z.string(),
  /** Per (host, session), only ever grows, across publisher restarts: a reader drops lower ones. */
  seq: z.number().int().positive(),
});
export type AgentStatusMessage = z.infer<typeof AgentStatusMessage>;

/** A message before the publisher numbers it. */
export type StatusUpdate = Omit<AgentStatusMessage, 'seq'>;

/** The wildcard a reader subscribes to: every host's every session. */
export const STATUS_TOPIC_FILTER = `${TOPIC_PREFIX}/+/agents/+/status`;
const STATUS_TOPIC = new RegExp(`^${TOPIC_PREFIX}/([^/]+)/agents/([^/]+)/status$`);

/** The host this machine publishes as: `$MAM_HOST` when set and not blank, else os.hostname(). */
export function statusHost(env: NodeJS.ProcessEnv): string {
  const explicit = env['MAM_HOST']?.trim();
  return explicit ? explicit : os.hostname();
}

/**
 * Why `name` cannot be a host or session name, or undefined when it can. Names are encoded rather than
 * restricted (a hostname or MAM_HOST may hold `/`, `+`, `#`, spaces, non-ASCII), so only what cannot be
 * encoded losslessly or would not fit is refused: empty, longer than 255, or malformed UTF-16.
 */
export function nameProblem(name: string): string | undefined {
  const checked = Name.safeParse(name);
  if (!checked.success) return name.length === 0 ? 'it is empty' : 'it is longer than 255 characters';
  try {
    encodeURIComponent(name);
    return undefined;
  } catch {
    return 'it is not well-formed text (a lone surrogate)';
  }
}

/**
 * One topic level from any name: percent-encoding (encodeURIComponent) leaves only `A-Za-z0-9 - _ . ! ~ * ' ( )`
 * and `%XX`, so `/`, `+`, `#`, `$`, NUL and spaces cannot split levels, act as wildcards or start a
 * system topic; and it decodes back to the name. Throws URIError on malformed UTF-16 (see {@link nameProblem}).
 */
export function encodeTopicLevel(name: string): string {
  return encodeURIComponent(name);
}

export function statusTopic(host: string, session: string): string {
  return `${TOPIC_PREFIX}/${encodeTopicLevel(host)}/agents/${encodeTopicLevel(session)}/status`;
}

/** The (host, session) a status topic names, or undefined for any other topic. */
export function parseStatusTopic(topic: string): { host: string; session: string } | undefined {
  const match = STATUS_TOPIC.exec(topic);
  if (!match) return undefined;
  try {
    return { host: decodeURIComponent(match[1]!), session: decodeURIComponent(match[2]!) };
  } catch {
    return undefined;
  }
}

export interface StatusInput {
  readonly host: string;
  readonly conversationId: string;
  readonly facts: Facts;
  readonly now: number;
}

/** The message for one conversation's facts; no agent facts left means the session is `gone`. */
export function statusMessage(input: StatusInput): StatusUpdate {
  const { facts } = input;
  const status = sessionStatus(facts.agents) ?? 'gone';
  const waits = Object.values(facts.agents)
    .map((agent) => (agent.status === 'needs_approval' ? agent.needs_approval_since : null))
    .filter((since): since is string => since !== null)
    .sort();
  return {
    host: input.host,
    session: facts.session?.mam_session || input.conversationId,
    conversation_id: input.conversationId,
    agent: facts.session?.agent ?? 'unknown',
    status,
    agents: Object.fromEntries(Object.entries(facts.agents).map(([key, agent]) => [key, agent.status])),
    needs_approval_since: status === 'needs_approval' ? (waits[0] ?? null) : null,
    cwd: facts.session?.cwd ?? null,
    updated_at: new Date(input.now).toISOString(),
  };
}

/** The last message of a session that ended: same identity, status `gone`, nothing else. */
export function goneMessage(last: Pick<StatusUpdate, 'host' | 'session' | 'conversation_id' | 'agent' | 'cwd'>, now: number): StatusUpdate {
  return { ...last, status: 'gone', agents: {}, needs_approval_since: null, updated_at: new Date(now).toISOString() };
}

/** What a status change is, for "did anything change": everything but the time and the number. */
export function statusContent(update: StatusUpdate): string {
  const { updated_at: _at, ...content } = update;
  return JSON.stringify(content, Object.keys(content).sort());
}

export type ReceivedStatus =
  | { readonly kind: 'status'; readonly message: AgentStatusMessage }
  /** An empty payload: the topic was cleared after its session ended. */
  | { readonly kind: 'cleared'; readonly host: string; readonly session: string }
  | { readonly kind: 'invalid'; readonly topic: string; readonly reason: string };

/** One received message, checked: valid JSON, the schema, and a topic that names the payload's own host and session. */
export function parseStatusMessage(topic: string, payload: Buffer | string): ReceivedStatus {
  const where = parseStatusTopic(topic);
  if (!where) return { kind: 'invalid', topic, reason: 'not a status topic' };
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (text.length === 0) return { kind: 'cleared', ...where };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'invalid', topic, reason: 'not JSON' };
  }
  const parsed = AgentStatusMessage.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', topic, reason: `${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}` };
  }
  // A payload under someone else's topic would let one host overwrite another's row: refuse it.
  if (parsed.data.host !== where.host || parsed.data.session !== where.session) {
    return { kind: 'invalid', topic, reason: `payload names ${parsed.data.host}/${parsed.data.session}` };
  }
  return { kind: 'status', message: parsed.data };
}

const keyOf = (host: string, session: string): string => `${host}\u0000${session}`;

/**
 * Folds received messages into the newest per (host, session): a lower or equal seq never replaces a
 * higher one (a late duplicate or a reordered delivery); a clear or `gone` leaves a tombstone at its seq so
 * an older message arriving after it cannot bring the session back. Returns a new map.
 */
export function foldStatus(state: ReadonlyMap<string, AgentStatusMessage>, received: ReceivedStatus): Map<string, AgentStatusMessage> {
  const next = new Map(state);
  if (received.kind === 'invalid') return next;
  if (received.kind === 'cleared') {
    const key = keyOf(received.host, received.session);
    const known = next.get(key);
    if (known) next.set(key, { ...known, status: 'gone', agents: {} });
    return next;
  }
  const { message } = received;
  const key = keyOf(message.host, message.session);
  const known = next.get(key);
  if (!known || message.seq > known.seq) next.set(key, message);
  return next;
}

/** The sessions to show: not gone, ordered by host then session. */
export function liveStatuses(state: ReadonlyMap<string, AgentStatusMessage>): AgentStatusMessage[] {
  return [...state.values()]
    .filter((message) => message.status !== 'gone')
    .sort((a, b) => a.host.localeCompare(b.host) || a.session.localeCompare(b.session));
}
