import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_FILE, canConnect, ensureEmbeddedBroker, readBrokerRecord, startBroker, type EmbeddedBroker } from '../../src/mqtt/broker.js';
import { signalable as isAlive } from '../../src/proc/tree.js';
import { connectTransport, type MqttJobTransport, type TransportOptions } from '../../src/jobs/mqtt.js';
import { JobStateMessage, type JobEvent, type JobFile } from '../../src/jobs/schema.js';
import { stateOf } from '../../src/jobs/service.js';
import { stateTopic, type EventMessage } from '../../src/jobs/transport.js';
import { freePort } from '../helpers/free-port.js';
import { MAM } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * The MQTT transport against the embedded broker (aedes, in this process) and a real mosquitto started
 * here on a free loopback port. Nothing here is mocked; every broker and process is ours and is stopped.
 */

/** Debian puts mosquitto in /usr/sbin, which a non-root PATH may lack. */
const MOSQUITTO = ['mosquitto', '/usr/sbin/mosquitto'].find((bin) => !spawnSync(bin, ['-h']).error) ?? 'mosquitto';
const MOSQUITTO_MISSING = spawnSync(MOSQUITTO, ['-h']).error ? 'mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)' : undefined;
if (MOSQUITTO_MISSING) console.warn(`skipping the mosquitto half of test/jobs/mqtt.test.ts: ${MOSQUITTO_MISSING}`);

/** Faster backoff than the defaults, so restarts are quick; still bounded. */
const TUNING = { reconnectMinMs: 100, reconnectMaxMs: 500, connectTimeoutMs: 3_000, publishTimeoutMs: 8_000 } as const;

let root: string;
const transports: MqttJobTransport[] = [];
const children: ChildProcess[] = [];
const pids = new Set<number>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mam-mqtt-'));
  // mosquitto started as root drops to the user mosquitto, which must reach its files in here.
  await chmod(root, 0o755);
});
afterEach(async () => {
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
function jobId(): string {
  counter += 1;
  return `j_${(Date.now().toString(16) + process.pid.toString(16) + counter.toString(16).padStart(4, '0')).padStart(24, '0').slice(-24)}`;
}
function uniqueClient(tag: string): string {
  return `mam-test-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
function event(seq: number): JobEvent {
  return { seq, event: seq === 1 ? 'started' : 'progress', at: new Date().toISOString(), detail: `step ${seq}` };
}

async function transport(url: string | undefined, clientId: string, extra: Partial<TransportOptions> = {}): Promise<MqttJobTransport> {
  const made = await connectTransport({ url, clientId, env: { PATH: process.env['PATH'] }, ...TUNING, ...extra });
  transports.push(made);
  return made;
}

function collect(subscriber: MqttJobTransport): EventMessage[] {
  const received: EventMessage[] = [];
  subscriber.onEvent((message) => received.push(message));
  return received;
}
const seqsOf = (received: readonly EventMessage[], id: string): number[] => received.filter((message) => message.jobId === id).map((message) => message.event.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, index) => from + index);

interface TestBroker {
  readonly url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function embeddedBroker(): Promise<TestBroker> {
  let broker: EmbeddedBroker = await startBroker({ host: '127.0.0.1' });
  const { port, url } = broker;
  return {
    url,
    async restart() {
      await broker.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      broker = await startBroker({ host: '127.0.0.1', port });
    },
    stop: () => broker.close(),
  };
}

/** mosquitto on a free loopback port with on-disk persistence in a temp dir (or a password file). */
async function mosquittoBroker(name: string, auth?: { user: string; password: string }): Promise<TestBroker> {
  const dir = path.join(root, name);
  const data = path.join(dir, 'data');
  await mkdir(data, { recursive: true });
  await chmod(dir, 0o755);
  const port = await freePort();
  const lines = [`listener ${port} 127.0.0.1`, 'persistence true', `persistence_location ${data}/`, 'log_dest stdout'];
  if (auth) {
    const passwords = path.join(dir, 'passwd');
    const made = spawnSync('mosquitto_passwd', ['-b', '-c', passwords, auth.user, auth.password], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr}`);
    lines.push('allow_anonymous false', `password_file ${passwords}`);
    await chmod(passwords, 0o600);
    await chownToMosquitto(passwords);
  } else {
    lines.push('allow_anonymous true');
  }
  await chownToMosquitto(data);
  const config = path.join(dir, 'mosquitto.conf');
  await writeFile(config, `${lines.join('\n')}\n`);
  const log = path.join(dir, 'mosquitto.log');
  let child: ChildProcess;
  const start = async (): Promise<void> => {
    const out = await open(log, 'a');
    child = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', out.fd, out.fd] });
    await out.close();
    children.push(child);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`mosquitto exited (${code}); see ${log}`))));
    await Promise.race([until(() => canConnect(port), `mosquitto on port ${port}`, 10_000), exited]);
    exited.catch(() => undefined);
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM'); // mosquitto saves its persistence file on SIGTERM
    await gone;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
}

async function chownToMosquitto(file: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const id = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
  if (id.status === 0 && gid.status === 0) await chown(file, Number(id.stdout.trim()), Number(gid.stdout.trim()));
}

/** `persistent`: the broker keeps sessions across its restart (mosquitto's on-disk persistence; aedes here is in memory). */
const HALVES: readonly { name: string; skip: string | undefined; persistent: boolean; make: () => Promise<TestBroker> }[] = [
  { name: 'embedded broker (aedes)', skip: undefined, persistent: false, make: embeddedBroker },
  { name: 'mosquitto', skip: MOSQUITTO_MISSING, persistent: true, make: () => mosquittoBroker(`mosquitto-${Math.random().toString(36).slice(2, 8)}`) },
];

for (const half of HALVES) {
  describe.skipIf(half.skip !== undefined)(`job transport over ${half.name}`, () => {
    let broker: TestBroker;
    beforeAll(async () => {
      broker = await half.make();
    });
    afterAll(async () => {
      await broker?.stop();
    });

    it('a persistent subscriber that was away gets every event published meanwhile, in order', async () => {
      const id = jobId();
      const subscriberId = uniqueClient('sub');
      const first = await transport(broker.url, subscriberId);
      await first.subscribe(id);
      await first.close();
      transports.splice(transports.indexOf(first), 1);

      const publisher = await transport(broker.url, uniqueClient('pub'));
      for (const seq of range(1, 5)) await publisher.publishEvent(id, event(seq));

      // Same clientId, clean:false: the broker flushes the queue with the CONNACK, before onEvent is called.
      const again = await transport(broker.url, subscriberId);
      const received = collect(again);
      await until(() => received.length >= 5, 'the 5 queued events', 10_000);
      expect(seqsOf(received, id)).toEqual(range(1, 5));
      expect(received[0]!.event).toMatchObject({ seq: 1, event: 'started', detail: 'step 1' });
    });

    it('a retained state message reaches a subscriber that comes later', async () => {
      const id = jobId();
      const publisher = await transport(broker.url, uniqueClient('pub'));
      const state: JobStateMessage = { job_id: id, status: 'running', seq: 3, updated_at: new Date().toISOString(), reason: null };
      await publisher.publishState(state);
      await publisher.publishState({ ...state, status: 'completed', seq: 4 });

      const late = await transport(broker.url, uniqueClient('late'));
      const states: JobStateMessage[] = [];
      late.onState((message) => states.push(message));
      await late.subscribe(id);
      await until(() => states.length >= 1, 'the retained state', 10_000);
      expect(states).toEqual([{ ...state, status: 'completed', seq: 4 }]);
    });

    it('a state message is taken only if it parses as one; odd updated_at and reason read as empty', async () => {
      const id = jobId();
      const subscriber = await transport(broker.url, uniqueClient('sub'));
      const states: JobStateMessage[] = [];
      subscriber.onState((message) => states.push(message));
      await subscriber.subscribe(id);
      const lenient = { job_id: id, status: 'running', seq: 2 };
      const valid = { job_id: id, status: 'completed', seq: 3, updated_at: '2026-01-01T00:00:00.000Z', reason: 'done', extra: true };
      const payloads = [
        'not json',
        '[]',
        'null',
        JSON.stringify({ status: 'running', seq: 1 }),
        JSON.stringify({ job_id: id, status: 'sleeping', seq: 1 }),
        JSON.stringify({ job_id: id, status: 'running', seq: '1' }),
        JSON.stringify({ ...lenient, updated_at: 7, reason: 42 }),
        JSON.stringify(valid),
      ];
      const raw = await connectAsync(broker.url, { clientId: uniqueClient('raw') });
      try {
        for (const payload of payloads) await raw.publishAsync(stateTopic(id), payload, { qos: 1 });
      } finally {
        await raw.endAsync();
      }
      // One publisher at QoS 1 keeps its order: once the last message is here, every earlier one has been handled.
      await until(() => states.some((state) => state.seq === 3), 'the last state message', 10_000);
      expect(states).toEqual([
        { ...lenient, updated_at: '', reason: null },
        { job_id: id, status: 'completed', seq: 3, updated_at: '2026-01-01T00:00:00.000Z', reason: 'done' },
      ]);
    });

    it('survives a broker restart mid-stream: both sides reconnect and nothing published after it is lost', async () => {
      const id = jobId();
      const subscriber = await transport(broker.url, uniqueClient('sub'));
      const received = collect(subscriber);
      const changes: boolean[] = [];
      subscriber.onConnection((connected) => changes.push(connected));
      await subscriber.subscribe(id);
      const publisher = await transport(broker.url, uniqueClient('pub'));
      for (const seq of range(1, 10)) await publisher.publishEvent(id, event(seq));
      await until(() => received.length >= 10, 'events 1–10', 10_000);

      await broker.restart();
      // Published while the client is still finding the broker again: queued by mqtt.js, acknowledged after.
      const during = publisher.publishEvent(id, event(11));
      await until(() => subscriber.connected && publisher.connected, 'both clients to reconnect', 10_000);
      await during;
      for (const seq of range(12, 30)) await publisher.publishEvent(id, event(seq));

      await until(() => range(12, 30).every((seq) => seqsOf(received, id).includes(seq)), 'events 12–30 after the restart', 10_000);
      const after = seqsOf(received, id).filter((seq) => seq >= 12);
      expect(after).toEqual(range(12, 30));
      // Its session restored from disk, mosquitto also delivers what was published before the subscriber was back.
      if (half.persistent) await until(() => seqsOf(received, id).includes(11), 'event 11 from the restored session', 10_000);
      expect(changes).toContain(false);
      expect(changes.at(-1)).toBe(true);
    });

    it('3 concurrent publishers × 50 events: none lost, order kept per job', async () => {
      const ids = [jobId(), jobId(), jobId()];
      const subscriber = await transport(broker.url, uniqueClient('sub'));
      const received = collect(subscriber);
      await subscriber.subscribe('*');
      const publishers = await Promise.all(ids.map((_, index) => transport(broker.url, uniqueClient(`pub${index}`))));
      // Every publish resolving means every PUBACK came (one that did not rejects after the publish timeout), and
      // the subscriber then holds all 150, each job's in order. How fast is a benchmark's question, not this one's.
      await Promise.all(publishers.map((publisher, index) => Promise.all(range(1, 50).map((seq) => publisher.publishEvent(ids[index]!, event(seq))))));
      await until(() => ids.every((id) => seqsOf(received, id).length >= 50), '150 events', 30_000);
      for (const id of ids) expect(seqsOf(received, id)).toEqual(range(1, 50));
    });
  });
}

describe('the job state message schema', () => {
  const job = (events: JobEvent[], reason: string | null): JobFile => ({
    job_id: 'j_0123456789abcdef01234567',
    agent: 'claude',
    prompt: 'p',
    workdir: '/w',
    agent_session: null,
    status: reason === null ? 'running' : 'error',
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:05.000Z',
    timeout_s: 60,
    idle_timeout_s: 30,
    last_event_at: '2026-01-01T00:00:05.000Z',
    reason,
    validate: null,
    logs_dir: '/l',
    events,
  });

  it('reads back what a job publishes, byte for byte', () => {
    for (const state of [stateOf(job([], null)), stateOf(job([event(1), event(2)], 'session gone'))]) {
      const text = JSON.stringify(state);
      expect(JSON.stringify(JobStateMessage.parse(JSON.parse(text)))).toBe(text);
    }
    expect(JSON.stringify(stateOf(job([event(1)], null)))).toBe('{"job_id":"j_0123456789abcdef01234567","status":"running","seq":1,"updated_at":"2026-01-01T00:00:05.000Z","reason":null}');
  });

  it('refuses a message without a job id, a known status or a numeric seq', () => {
    const good = { job_id: 'j_0123456789abcdef01234567', status: 'running', seq: 1, updated_at: 'x', reason: null };
    for (const bad of [null, [], 'text', { ...good, job_id: 5 }, { ...good, status: 'sleeping' }, { ...good, seq: '1' }, { status: 'running', seq: 1 }]) {
      expect(JobStateMessage.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(JobStateMessage.parse({ ...good, updated_at: null, reason: 3, extra: 'dropped' })).toEqual({ ...good, updated_at: '', reason: null });
  });
});

describe('connection failures are reported clearly and in bounded time', () => {
  it('an unreachable URL', async () => {
    const port = await freePort();
    // Refused, not timed out: the message names ECONNREFUSED rather than the 5 s connect timeout, so the refusal
    // was reported as it happened instead of being waited out.
    await expect(transport(`mqtt://127.0.0.1:${port}`, uniqueClient('x'))).rejects.toThrow(
      new RegExp(`^broker mqtt://127\\.0\\.0\\.1:${port} unreachable: ECONNREFUSED$`),
    );
  });

  it('a broker that accepts TCP but never answers MQTT', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      // The message names the 1 s asked for, not the 5 s default: the timer that gave up is the one configured.
      await expect(transport(`mqtt://127.0.0.1:${port}`, uniqueClient('x'), { connectTimeoutMs: 1_000 })).rejects.toThrow(
        `broker mqtt://127.0.0.1:${port} did not accept a connection within 1 s`,
      );
    } finally {
      silent.close();
      silent.unref();
    }
  });

  it('a publish while the broker stays down rejects after the publish timeout; close() ends waits at once', async () => {
    const broker = await startBroker({ host: '127.0.0.1' });
    const publisher = await transport(broker.url, uniqueClient('pub'), { publishTimeoutMs: 1_000 });
    const id = jobId();
    await publisher.publishEvent(id, event(1));
    await broker.close();
    await until(() => !publisher.connected, 'the publisher to notice', 10_000);
    // The message names the 1 s publish timeout asked for (not the 10 s default) and why nothing was acknowledged.
    await expect(publisher.publishEvent(id, event(2))).rejects.toThrow(
      new RegExp(`^publish to mam/v1/jobs/${id}/events: no acknowledgement within 1 s, not connected to broker ${broker.url} \\(ECONNREFUSED\\)$`),
    );
    const waiting = publisher.publishState({ job_id: id, status: 'running', seq: 2, updated_at: new Date().toISOString(), reason: null });
    await publisher.close();
    await expect(waiting).rejects.toThrow('was closed before the broker acknowledged it');
    await expect(publisher.publishEvent(id, event(3))).rejects.toThrow('is closed');
    await expect(publisher.publishEvent('j_nope', event(3))).rejects.toThrow('is not a job id');
  });

  it('wrong credentials, against an aedes that checks them', async () => {
    const aedes = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => {
        if (username === 'mam' && password?.toString() === 'right') done(null, true);
        else done(Object.assign(new Error('bad credentials'), { returnCode: 4 as const }), false);
      },
    });
    const server = net.createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      await expect(transport(url, uniqueClient('x'), { username: 'mam', password: 'wrong' })).rejects.toThrow(`broker ${url} refused the credentials`);
      await expect(transport(url, uniqueClient('y'), { username: 'mam', password: 'right' })).resolves.toBeDefined();
    } finally {
      await Promise.all(transports.splice(0).map((made) => made.close()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      server.close();
    }
  });

  it.skipIf(MOSQUITTO_MISSING !== undefined)('wrong credentials, against mosquitto with a password_file', async () => {
    const secured = await mosquittoBroker('mosquitto-auth', { user: 'mam', password: 'right' });
    try {
      // Refused with the broker's reason, not a connect timeout: the CONNACK's refusal ended the wait.
      await expect(transport(secured.url, uniqueClient('x'), { username: 'mam', password: 'wrong' })).rejects.toThrow(
        `broker ${secured.url} refused the credentials (Not authorized)`,
      );
      await expect(transport(secured.url, uniqueClient('x'), {})).rejects.toThrow(`broker ${secured.url} refused the credentials`);
      const ok = await transport(secured.url, uniqueClient('y'), { username: 'mam', password: 'right' });
      await ok.publishEvent(jobId(), event(1));
    } finally {
      await secured.stop();
    }
  });
});

describe('the embedded broker on demand', () => {
  it('two concurrent ensureEmbeddedBroker calls start one broker, which exits by itself when idle', async () => {
    const dir = path.join(root, 'ensure');
    const env = { PATH: process.env['PATH'], MAM_BROKER_DIR: dir };
    const [one, two] = await Promise.all([ensureEmbeddedBroker(env, { idleExitSeconds: 2 }), ensureEmbeddedBroker(env, { idleExitSeconds: 2 })]);
    expect(one).toBe(two);
    const record = (await readBrokerRecord(dir))!;
    pids.add(record.pid);
    expect(record.url).toBe(one);
    expect(record.pid).not.toBe(process.pid);
    expect(isAlive(record.pid)).toBe(true);
    expect((await readFile(path.join(dir, 'broker.log'), 'utf8')).match(/listening on/g)).toHaveLength(1);

    // url undefined → that same broker.
    const subscriber = await transport(undefined, uniqueClient('sub'), { env });
    expect(subscriber.url).toBe(one);
    const received = collect(subscriber);
    const id = jobId();
    await subscriber.subscribe(id);
    const publisher = await transport(undefined, uniqueClient('pub'), { env });
    await publisher.publishEvent(id, event(1));
    await until(() => received.length === 1, 'the event through the embedded broker', 10_000);
    await subscriber.close();
    await publisher.close();

    // No client for 2 s: it exits and removes broker.json.
    await until(() => !isAlive(record.pid), 'the idle broker to exit', 60_000);
    await expect(stat(path.join(dir, BROKER_FILE))).rejects.toThrow();
    expect(await readFile(path.join(dir, 'broker.log'), 'utf8')).toMatch(/stopped \(idle\)/);
  });

  it('an embedded broker gone between reading broker.json and the CONNECT is looked up once more, and started', async () => {
    const dir = path.join(root, 'vanished');
    await mkdir(dir, { recursive: true });
    const env = { PATH: process.env['PATH'], MAM_BROKER_DIR: dir };
    // Answers ensureEmbeddedBroker's liveness probe, then stops listening: the CONNECT that follows is refused.
    const vanishing = net.createServer((socket) => {
      socket.destroy();
      vanishing.close();
    });
    await new Promise<void>((resolve) => vanishing.listen(0, '127.0.0.1', resolve));
    const { port } = vanishing.address() as net.AddressInfo;
    await writeFile(path.join(dir, BROKER_FILE), JSON.stringify({ pid: process.pid, port, url: `mqtt://127.0.0.1:${port}`, started_at: new Date().toISOString() }));

    const subscriber = await transport(undefined, uniqueClient('sub'), { env });
    const record = (await readBrokerRecord(dir))!;
    pids.add(record.pid);
    expect(record.pid).not.toBe(process.pid);
    expect(subscriber.url).toBe(record.url);
    expect(subscriber.connected).toBe(true);
    await subscriber.close();
    process.kill(record.pid, 'SIGTERM');
    await until(() => !isAlive(record.pid), 'the started broker to stop', 10_000);
  });

  it('a transport follows the embedded broker when it is gone: started again, on its new port', async () => {
    const dir = path.join(root, 'follow');
    const env = { PATH: process.env['PATH'], MAM_BROKER_DIR: dir };
    const subscriber = await transport(undefined, uniqueClient('sub'), { env });
    const received = collect(subscriber);
    const id = jobId();
    await subscriber.subscribe(id);
    const before = (await readBrokerRecord(dir))!;
    pids.add(before.pid);

    process.kill(before.pid, 'SIGTERM');
    await until(() => !subscriber.connected, 'the subscriber to notice', 10_000);
    await until(async () => {
      const now = await readBrokerRecord(dir);
      if (now) pids.add(now.pid);
      return subscriber.connected && now !== undefined && now.pid !== before.pid;
    }, 'a new broker and the subscriber on it', 15_000);
    const publisher = await transport(undefined, uniqueClient('pub'), { env });
    await publisher.publishEvent(id, event(1));
    await until(() => received.length === 1, 'the event through the new broker', 10_000);
    const after = (await readBrokerRecord(dir))!;
    process.kill(after.pid, 'SIGTERM');
    await until(() => !isAlive(after.pid), 'the new broker to stop', 10_000);
  });

  it('`mam broker` stops cleanly on SIGTERM and removes broker.json', async () => {
    const dir = path.join(root, 'cli');
    const child = spawn(process.execPath, [MAM, 'broker', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(async () => (await readBrokerRecord(dir))?.pid === child.pid, 'broker.json', 10_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(stat(path.join(dir, BROKER_FILE))).rejects.toThrow();
    expect(output).toMatch(/listening on mqtt:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/stopped \(stopped\)/);
  });
});
