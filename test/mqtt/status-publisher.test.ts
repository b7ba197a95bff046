import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type EmbeddedBroker } from '../../src/mqtt/broker.js';
import type { Facts } from '../../src/facts/derive.js';
import type { AgentFact, AgentStatus, SessionFact } from '../../src/facts/schema.js';
import { collectStatuses, type AllHostsReport } from '../../src/mqtt/all-hosts.js';
import { createStatusPublisher, PUBLISHED_FILE, type StatusPublisher } from '../../src/mqtt/status-publisher.js';
import {
  foldStatus,
  liveStatuses,
  nameProblem,
  parseStatusMessage,
  parseStatusTopic,
  statusMessage,
  statusTopic,
  type AgentStatusMessage,
  type ReceivedStatus,
} from '../../src/mqtt/status-message.js';
import { freePort } from '../helpers/free-port.js';
import { MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.js';
import { mam } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * The retained status topics: the pure message and topic functions, the publisher against the embedded
 * broker (aedes, in this process) and a real mosquitto, and `mam status --all-hosts` run as a real CLI
 * process against mosquitto with two publishing "hosts". Nothing is mocked.
 */

if (MOSQUITTO_MISSING) console.warn(`skipping the mosquitto half of test/mqtt/status-publisher.test.ts: ${MOSQUITTO_MISSING}`);

let root: string;
const publishers: StatusPublisher[] = [];
const clients: MqttClient[] = [];
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mam-publish-'));
  await chmod(root, 0o755);
});
afterEach(async () => {
  await Promise.all(publishers.splice(0).map((publisher) => publisher.close()));
  for (const client of clients.splice(0)) client.end(true);
});
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
  await rm(root, { recursive: true, force: true });
});

const AT = Date.parse('2026-01-02T03:04:05.000Z');
function agent(status: AgentStatus, since: string | null = null): AgentFact {
  return { status, tools: {}, agent_type: null, needs_approval_since: status === 'needs_approval' ? (since ?? new Date(AT).toISOString()) : null, background: [], limit: null, updated_at: new Date(AT).toISOString() };
}
function session(id: string, mamSession: string | null, cwd = '/work/project'): SessionFact {
  return { session_id: id, agent: 'claude', cwd, transcript_path: null, mam_session: mamSession, pid: null, pid_start: null, transcript_offset: null, model: null, started_at: new Date(AT).toISOString(), updated_at: new Date(AT).toISOString() } as SessionFact;
}
function facts(id: string, mamSession: string | null, agents: Record<string, AgentFact>): Facts {
  return { session: session(id, mamSession), agents };
}

let dirCounter = 0;
async function freshDir(tag: string): Promise<string> {
  dirCounter += 1;
  const dir = path.join(root, `${tag}-${dirCounter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function publisher(url: string | undefined, dir: string, host: string, log: string[] = []): StatusPublisher {
  const made = createStatusPublisher({ env: { PATH: process.env['PATH'], MAM_BROKER_DIR: path.join(dir, 'broker') }, dir, broker: { url }, host, log: (line) => log.push(line), reconnectMinMs: 50, reconnectMaxMs: 200, connectTimeoutMs: 2_000 });
  publishers.push(made);
  return made;
}

function read(url: string, extra: { quietMs?: number; onMessage?: (received: ReceivedStatus) => void } = {}): Promise<AllHostsReport> {
  return collectStatuses({ broker: { url }, env: {}, quietMs: extra.quietMs ?? 300, timeoutMs: 5_000, ...(extra.onMessage ? { onMessage: extra.onMessage } : {}) });
}

/** A raw MQTT client, connected, for publishing what no publisher would (stale, malformed) and for watching live. */
async function raw(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `mam-test-raw-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, protocolVersion: 4, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

const find = (report: AllHostsReport, host: string, sessionName: string): AgentStatusMessage | undefined =>
  report.sessions.find((message) => message.host === host && message.session === sessionName);

describe('status messages and topics (pure)', () => {
  it('encodes hostile host and session names into exactly one topic level each, and decodes them back', () => {
    const host = 'evil/+#host $SYS';
    const name = 'a/b/+/#';
    const topic = statusTopic(host, name);
    expect(topic.split('/')).toHaveLength(6);
    expect(topic).not.toMatch(/[+#\s$]/);
    expect(topic.startsWith('mam/v1/')).toBe(true);
    expect(parseStatusTopic(topic)).toEqual({ host, session: name });
    expect(statusTopic('laptop.example-1', 'lab-creator-claude')).toBe('mam/v1/laptop.example-1/agents/lab-creator-claude/status');
  });

  it('refuses only names it cannot carry: empty, over 255 characters, malformed UTF-16', () => {
    expect(nameProblem('')).toMatch(/empty/);
    expect(nameProblem('x'.repeat(256))).toMatch(/255/);
    expect(nameProblem('bad\ud800')).toMatch(/surrogate/);
    expect(nameProblem('ok/but+odd#')).toBeUndefined();
  });

  it('builds the message from facts: registry session name, the most pressing status, the earliest approval wait', () => {
    const message = statusMessage({
      host: 'h1',
      conversationId: 'conv-1',
      facts: facts('conv-1', 'lab-creator-claude', { main: agent('working'), sub1: agent('needs_approval', '2026-01-02T03:00:00.000Z'), sub2: agent('needs_approval', '2026-01-02T02:00:00.000Z') }),
      now: AT,
    });
    expect(message).toMatchObject({ host: 'h1', session: 'lab-creator-claude', conversation_id: 'conv-1', agent: 'claude', status: 'needs_approval', needs_approval_since: '2026-01-02T02:00:00.000Z', cwd: '/work/project' });
    expect(message.agents).toEqual({ main: 'working', sub1: 'needs_approval', sub2: 'needs_approval' });
    // No registry session: the conversation id names it; no agents left: gone.
    expect(statusMessage({ host: 'h1', conversationId: 'conv-2', facts: facts('conv-2', null, { main: agent('waiting') }), now: AT })).toMatchObject({ session: 'conv-2', status: 'waiting', needs_approval_since: null });
    expect(statusMessage({ host: 'h1', conversationId: 'conv-3', facts: { session: undefined, agents: {} }, now: AT })).toMatchObject({ session: 'conv-3', status: 'gone', agent: 'unknown' });
  });

  it('a reader keeps the highest seq, ignores a stale one, forgets a cleared session, and counts what is not a status', () => {
    const base = { ...statusMessage({ host: 'h', conversationId: 'c', facts: facts('c', 's', { main: agent('working') }), now: AT }) };
    const topic = statusTopic('h', 's');
    const at = (seq: number, status: AgentStatusMessage['status']): ReceivedStatus => parseStatusMessage(topic, JSON.stringify({ ...base, status, seq }));
    let state = new Map<string, AgentStatusMessage>();
    state = foldStatus(state, at(5, 'needs_approval'));
    state = foldStatus(state, at(3, 'waiting'));
    expect(liveStatuses(state).map((message) => [message.seq, message.status])).toEqual([[5, 'needs_approval']]);
    state = foldStatus(state, at(6, 'working'));
    expect(liveStatuses(state)[0]?.status).toBe('working');
    state = foldStatus(state, parseStatusMessage(topic, ''));
    expect(liveStatuses(state)).toEqual([]);
    // An older message arriving after the clear does not bring the session back.
    state = foldStatus(state, at(4, 'waiting'));
    expect(liveStatuses(state)).toEqual([]);

    expect(parseStatusMessage(topic, '{not json').kind).toBe('invalid');
    expect(parseStatusMessage(topic, JSON.stringify({ ...base, seq: 0 })).kind).toBe('invalid');
    // A payload under another host's topic would let one host overwrite another's row.
    expect(parseStatusMessage(statusTopic('other', 's'), JSON.stringify({ ...base, seq: 1 }))).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('payload names h/s') });
  });
});

interface TestBroker {
  readonly url: string;
  stop(): Promise<void>;
}
const BROKERS: { name: string; skip: string | undefined; make: () => Promise<TestBroker> }[] = [
  {
    name: 'the embedded broker',
    skip: undefined,
    make: async () => {
      const broker: EmbeddedBroker = await startBroker({ host: '127.0.0.1' });
      return { url: broker.url, stop: () => broker.close() };
    },
  },
  { name: 'mosquitto', skip: MOSQUITTO_MISSING, make: async () => startMosquitto(await freshDir('mosquitto')) },
];

for (const half of BROKERS) {
  describe.skipIf(half.skip !== undefined)(`status publisher over ${half.name}`, () => {
    let broker: TestBroker;
    beforeAll(async () => {
      broker = await half.make();
      stops.push(() => broker.stop());
    });

    it('publishes retained QoS 1 messages a fresh subscriber reads back, numbered per session, and skips unchanged facts', async () => {
      const dir = await freshDir('pub');
      const host = `host-${dirCounter}`;
      const publish = publisher(broker.url, dir, host);
      await publish.update('conv-a', facts('conv-a', 'proj-creator-claude', { main: agent('working') }));
      await publish.update('conv-a', facts('conv-a', 'proj-creator-claude', { main: agent('working') }));
      await publish.update('conv-a', facts('conv-a', 'proj-creator-claude', { main: agent('working'), helper: agent('needs_approval') }));
      await publish.update('conv-b', facts('conv-b', null, { main: agent('waiting') }));
      expect(await publish.flush(5_000)).toBe(true);

      const report = await read(broker.url);
      expect(report.invalid).toBe(0);
      expect(find(report, host, 'proj-creator-claude')).toMatchObject({ status: 'needs_approval', seq: 2, conversation_id: 'conv-a', agents: { main: 'working', helper: 'needs_approval' } });
      expect(find(report, host, 'conv-b')).toMatchObject({ status: 'waiting', seq: 1, conversation_id: 'conv-b' });
      const onDisk = JSON.parse(await readFile(path.join(dir, PUBLISHED_FILE), 'utf8')) as { topics: Record<string, { seq: number; live: boolean }> };
      expect(onDisk.topics[statusTopic(host, 'proj-creator-claude')]).toMatchObject({ seq: 2, live: true });
    });

    it('an ended session sends gone to live subscribers, then its retained topic is empty', async () => {
      const dir = await freshDir('gone');
      const host = `host-${dirCounter}`;
      const publish = publisher(broker.url, dir, host);
      await publish.update('conv-g', facts('conv-g', 'ending-session', { main: agent('working') }));
      expect(await publish.flush(5_000)).toBe(true);

      const watcher = await raw(broker.url);
      const live: { retain: boolean; payload: string }[] = [];
      watcher.on('message', (topic, payload, packet) => {
        if (topic === statusTopic(host, 'ending-session')) live.push({ retain: packet.retain, payload: payload.toString() });
      });
      await watcher.subscribeAsync(statusTopic(host, 'ending-session'), { qos: 1 });
      await until(() => live.length === 1, 'the retained message', 10_000);

      await publish.ended('conv-g');
      expect(await publish.flush(5_000)).toBe(true);
      await until(() => live.length === 3, 'gone and the clear', 10_000);
      expect(JSON.parse(live[1]!.payload)).toMatchObject({ status: 'gone', seq: 2, agents: {} });
      expect(live[2]!.payload).toBe('');
      expect(find(await read(broker.url), host, 'ending-session')).toBeUndefined();
      // Ending it again publishes nothing more.
      await publish.ended('conv-g');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(live).toHaveLength(3);
    });

    it('keeps counting across a publisher restart: the sequence number is on disk', async () => {
      const dir = await freshDir('restart');
      const host = `host-${dirCounter}`;
      const first = publisher(broker.url, dir, host);
      await first.update('conv-r', facts('conv-r', 'restarted', { main: agent('working') }));
      await first.update('conv-r', facts('conv-r', 'restarted', { main: agent('waiting') }));
      expect(await first.flush(5_000)).toBe(true);
      await first.close();

      const second = publisher(broker.url, dir, host);
      await second.update('conv-r', facts('conv-r', 'restarted', { main: agent('needs_approval') }));
      expect(await second.flush(5_000)).toBe(true);
      expect(find(await read(broker.url), host, 'restarted')).toMatchObject({ seq: 3, status: 'needs_approval' });

      // A third run that finds the session ended while nothing ran clears it with sweep().
      await second.close();
      const third = publisher(broker.url, dir, host);
      await third.sweep([]);
      expect(await third.flush(5_000)).toBe(true);
      expect(find(await read(broker.url), host, 'restarted')).toBeUndefined();
    });
  });
}

describe('status publisher without a broker URL', () => {
  it('starts the embedded broker on demand, and --all-hosts reads the running one', async () => {
    const dir = await freshDir('embedded');
    const env = { PATH: process.env['PATH'], HOME: root, MAM_BROKER_DIR: path.join(dir, 'broker') };
    stops.push(async () => {
      const record = JSON.parse(await readFile(path.join(dir, 'broker', 'broker.json'), 'utf8').catch(() => '{}')) as { pid?: number };
      if (record.pid) process.kill(record.pid, 'SIGTERM');
    });
    const quiet = createStatusPublisher({ env, dir, broker: { url: undefined }, host: 'only-if-running', startEmbeddedBroker: false, log: () => undefined, reconnectMinMs: 50, reconnectMaxMs: 100 });
    publishers.push(quiet);
    await quiet.update('conv-q', facts('conv-q', 'quiet', { main: agent('working') }));
    expect(await quiet.flush(300)).toBe(false);

    const publish = createStatusPublisher({ env, dir, broker: { url: undefined }, host: 'embedded-host', log: () => undefined });
    publishers.push(publish);
    await publish.update('conv-e', facts('conv-e', 'on-demand', { main: agent('waiting') }));
    expect(await publish.flush(15_000)).toBe(true);
    // The quiet one follows once a broker runs (it keeps looking for one).
    expect(await quiet.flush(5_000)).toBe(true);
    const result = await mam(['status', '--all-hosts', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as AllHostsReport;
    expect(report.broker).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(report.sessions.map((message) => [message.host, message.session, message.status])).toEqual([
      ['embedded-host', 'on-demand', 'waiting'],
      ['only-if-running', 'quiet', 'working'],
    ]);
  });
});

describe('status publisher while the broker is down', () => {
  it('never throws, logs once, and publishes only the latest status when a broker comes up', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const dir = await freshDir('down');
    const log: string[] = [];
    const publish = publisher(url, dir, 'down-host', log);
    // update() only queues: it must resolve with no broker at all (nothing listens until startBroker below), so one
    // that waited for the broker would never settle. The bound turns that hang into a clear failure; it is far
    // above any load, and says nothing about speed.
    const settles = async (update: Promise<void>, what: string): Promise<void> => {
      let settled = false;
      const done = update.finally(() => (settled = true));
      await until(() => settled, `${what} to return while the broker is down`, 30_000);
      await done;
    };
    await settles(publish.update('conv-d', facts('conv-d', 'offline', { main: agent('working') })), 'the first update');
    await settles(publish.update('conv-d', facts('conv-d', 'offline', { main: agent('needs_approval') })), 'the second update');
    await until(() => log.length > 0, 'the publisher to log the failure', 10_000);
    await settles(publish.update('conv-d', facts('conv-d', 'offline', { main: agent('waiting') })), 'the third update');
    expect(publish.connected).toBe(false);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/ECONNREFUSED.*published when the broker is back/);

    const broker = await startBroker({ host: '127.0.0.1', port });
    stops.push(() => broker.close());
    // Subscribed before the publisher reconnects: it sees every message that is sent, so a queued stale one would show.
    const watcher = await raw(url);
    const seen: AgentStatusMessage[] = [];
    watcher.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString()) as AgentStatusMessage));
    await watcher.subscribeAsync(statusTopic('down-host', 'offline'), { qos: 1 });
    expect(await publish.flush(10_000)).toBe(true);
    await until(() => seen.length >= 1, 'the latest status', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.map((message) => [message.status, message.seq])).toEqual([['waiting', 3]]);
    expect(log.at(-1)).toMatch(/connected to .* again/);

    // An embedded broker that restarts forgets retained messages; the publisher puts the latest back on reconnect.
    await broker.close();
    await until(() => !publish.connected, 'the publisher to notice', 10_000);
    const again = await startBroker({ host: '127.0.0.1', port });
    stops.push(() => again.close());
    await until(() => publish.connected, 'the publisher to reconnect', 10_000);
    expect(await publish.flush(5_000)).toBe(true);
    expect(find(await read(url), 'down-host', 'offline')).toMatchObject({ status: 'waiting', seq: 3 });
  });

  it('a host name it cannot carry is logged once and nothing is published', async () => {
    const broker = await startBroker({ host: '127.0.0.1' });
    stops.push(() => broker.close());
    const log: string[] = [];
    const publish = publisher(broker.url, await freshDir('badhost'), '', log);
    await publish.update('conv-x', facts('conv-x', 'x', { main: agent('working') }));
    await publish.update('conv-x', facts('conv-x', 'x', { main: agent('waiting') }));
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/host name "" cannot be used \(it is empty\)/);
    expect((await read(broker.url)).sessions).toEqual([]);
  });
});

describe.skipIf(MOSQUITTO_MISSING !== undefined)('mam status --all-hosts over mosquitto', () => {
  let url: string;
  beforeAll(async () => {
    const broker = await startMosquitto(await freshDir('cli-mosquitto'));
    url = broker.url;
    stops.push(broker.stop);
  });

  it('shows both hosts, the newest of each session, not the ended one, and counts malformed messages', async () => {
    const alpha = publisher(url, await freshDir('alpha'), 'alpha');
    const beta = publisher(url, await freshDir('beta'), 'beta/+#lab');
    await alpha.update('conv-1', facts('conv-1', 'web-creator-claude', { main: agent('working') }));
    await alpha.update('conv-1', facts('conv-1', 'web-creator-claude', { main: agent('needs_approval', '2026-01-02T03:00:00.000Z') }));
    await beta.update('conv-2', facts('conv-2', 'api-creator-claude', { main: agent('waiting') }));
    await beta.update('conv-3', facts('conv-3', 'we/ird+#\u001b[31m', { main: agent('working') }));
    await beta.update('conv-4', facts('conv-4', 'short-lived', { main: agent('working') }));
    await beta.ended('conv-4');
    expect(await alpha.flush(5_000)).toBe(true);
    expect(await beta.flush(5_000)).toBe(true);
    const junk = await raw(url);
    await junk.publishAsync('mam/v1/junk/agents/x/status', '{"not":"a status"', { qos: 1, retain: true });
    // A valid payload under another host's topic: not allowed to pose as alpha.
    const forged = { host: 'alpha', session: 'web-creator-claude', conversation_id: null, agent: 'claude', status: 'waiting', agents: {}, needs_approval_since: null, cwd: null, updated_at: new Date().toISOString(), seq: 99 };
    await junk.publishAsync(statusTopic('mallory', 'web-creator-claude'), JSON.stringify(forged), { qos: 1, retain: true });

    const env = { PATH: process.env['PATH'], HOME: root, MAM_MQTT_URL: url, MAM_BROKER_DIR: path.join(root, 'no-broker') };
    const json = await mam(['status', '--all-hosts', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as AllHostsReport;
    expect(report.complete).toBe(true);
    expect(report.invalid).toBe(2);
    expect(json.stderr).toMatch(/ignored 2 message\(s\)/);
    expect(find(report, 'alpha', 'web-creator-claude')).toMatchObject({ status: 'needs_approval', seq: 2, needs_approval_since: '2026-01-02T03:00:00.000Z' });
    expect(find(report, 'beta/+#lab', 'api-creator-claude')).toMatchObject({ status: 'waiting', seq: 1 });
    expect(find(report, 'beta/+#lab', 'we/ird+#\u001b[31m')).toMatchObject({ status: 'working' });
    expect(find(report, 'beta/+#lab', 'short-lived')).toBeUndefined();
    expect(report.sessions.map((message) => message.host)).not.toContain('mallory');

    const table = await mam(['status', '--all-hosts'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^HOST\s+SESSION\s+AGENT\s+ACTIVITY\s+SINCE\s+AGENTS\s+CWD$/);
    expect(lines.find((line) => line.startsWith('alpha '))).toMatch(/web-creator-claude\s+claude\s+NEEDS APPROVAL/);
    // Another host's escape sequence never reaches the terminal.
    expect(table.stdout).not.toContain('\u001b');
    expect(table.stdout).toContain('we/ird+#?[31m');
  });

  it('a stale lower-seq message arriving during the read does not replace the newer one', async () => {
    const publish = publisher(url, await freshDir('stale'), 'gamma');
    await publish.update('conv-s', facts('conv-s', 'stale-test', { main: agent('working') }));
    await publish.update('conv-s', facts('conv-s', 'stale-test', { main: agent('needs_approval') }));
    expect(await publish.flush(5_000)).toBe(true);
    const sender = await raw(url);
    const stale = { ...statusMessage({ host: 'gamma', conversationId: 'conv-s', facts: facts('conv-s', 'stale-test', { main: agent('waiting') }), now: AT }), seq: 1 };
    let sent = false;
    let seenStale = false;
    const report = await read(url, {
      quietMs: 1_000,
      onMessage: (received) => {
        if (received.kind === 'status' && received.message.host === 'gamma' && received.message.seq === 1) seenStale = true;
        if (sent || received.kind !== 'status' || received.message.host !== 'gamma') return;
        sent = true;
        // Not retained: the broker's retained copy stays the newer one, the reader gets this one live.
        void sender.publishAsync(statusTopic('gamma', 'stale-test'), JSON.stringify(stale), { qos: 1 });
      },
    });
    expect(seenStale).toBe(true);
    expect(find(report, 'gamma', 'stale-test')).toMatchObject({ seq: 2, status: 'needs_approval' });
  });

  it('a broker that is down is a one-line error and exit 1 at the refusal, not after a timeout; no broker at all says what to set', async () => {
    const port = await freePort();
    const down = await mam(['status', '--all-hosts', '--json'], { PATH: process.env['PATH'], HOME: root, MAM_MQTT_URL: `mqtt://127.0.0.1:${port}` });
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    // The one line names the refusal: the read ended on the connection's first error. Had it waited out its 5 s bound
    // (src/mqtt/all-hosts.ts), the line would say "did not answer within 5000 ms" instead; had it waited forever, the
    // test would time out. A stopwatch around the command would time node's start-up too, which a loaded machine
    // stretches past any such figure.
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(new RegExp(`^mam: broker mqtt://127.0.0.1:${port} unreachable: ECONNREFUSED$`, 'm'));

    const none = await mam(['status', '--all-hosts'], { PATH: process.env['PATH'], HOME: root, MAM_BROKER_DIR: path.join(root, 'never-started') });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/MAM_MQTT_URL is not set and the embedded broker is not running/);

    const usage = await mam(['status', '--all-hosts', '--watch'], { PATH: process.env['PATH'], HOME: root });
    expect(usage.code).toBe(64);
    const help = await mam(['status', '--help'], { PATH: process.env['PATH'], HOME: root });
    expect(help.stdout).toContain('--all-hosts');
  });
});

