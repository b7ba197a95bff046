import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/registry/lock.js';
import { askDaemon, daemonFiles, reportEvent, type EventReport } from '../../src/jobs/daemon-client.js';
import { runJobDaemon } from '../../src/jobs/daemon.js';
import type { JobEventName } from '../../src/jobs/names.js';
import type { JobFile } from '../../src/jobs/schema.js';
import { createJob, recordEvent, type JobContext } from '../../src/jobs/service.js';
import { connectTransport, type MqttJobTransport } from '../../src/jobs/mqtt.js';
import { brokerOptionsFromEnv } from '../../src/mqtt/options.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * The job daemon (src/jobs/daemon.ts) and `mam job event`'s path through it (src/jobs/daemon-client.ts): real unix
 * sockets, real flock, the real embedded broker. Nothing may be lost or recorded twice whatever fails — the daemon
 * down, killed mid-batch, busy or silent, the caller killed mid-event — and the exit codes stay those of docs/jobs.md.
 * No test relies on timing: where a batch must be caught in flight, the test holds the jobs directory's lock.
 */
let box: Sandbox;
let env: NodeJS.ProcessEnv;
let jobs: JobContext;
const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  box = await Sandbox.create('mam-jobd-');
  env = box.env({ MAM_JOB_DAEMON: '1' });
  jobs = { dir: path.join(box.root, 'jobs'), logsRoot: path.join(box.root, 'logs'), env, now: Date.now, lock: { timeoutMs: 60_000 }, transport: async () => undefined };
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => undefined);
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await box.dispose();
});

const newJob = (): Promise<JobFile> => createJob(jobs, { agent: 'claude', prompt: 'p', workdir: box.root, agentSession: null, timeoutS: 86_400, idleTimeoutS: 86_400, validate: null });
const readJobFile = async (id: string): Promise<JobFile> => JSON.parse(await readFile(path.join(jobs.dir, `${id}.json`), 'utf8')) as JobFile;
const auditLines = async (job: JobFile): Promise<{ seq: number; key?: string }[]> =>
  (await readFile(path.join(job.logs_dir, 'events.jsonl'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { seq: number; key?: string });

/** `mam job daemon` as a child process, resolved once its socket answers. */
async function startDaemon(extra: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAM, 'job', 'daemon', '--idle-exit', '600'], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until(() => output.includes('listening on') || child.exitCode !== null, 'the job daemon to listen', 60_000, { detail: () => output });
  expect(output).toContain('listening on');
  return child;
}

/** A subscriber to one job's events on the sandbox's broker, closed after the test: the seqs it has received so far. */
async function subscribeTo(jobId: string): Promise<number[]> {
  const subscriber: MqttJobTransport = await connectTransport({ ...brokerOptionsFromEnv(env), clientId: `test-sub-${process.pid}`, env });
  closers.push(() => subscriber.close());
  const seen: number[] = [];
  subscriber.onEvent((message) => seen.push(message.event.seq));
  await subscriber.subscribe(jobId);
  return seen;
}

/** The events a job's file holds beyond `submitted`, checked for what must always hold: seq 1…n, keys unique. */
function checked(job: JobFile): JobFile['events'] {
  expect(job.events.map((item) => item.seq)).toEqual(job.events.map((_, index) => index + 1));
  const keys = job.events.flatMap((item) => (item.key === undefined ? [] : [item.key]));
  expect(new Set(keys).size).toBe(keys.length);
  return job.events.slice(1);
}

/** A direct path as the CLI's, counting its calls: records in-process, publishing to no broker. */
function directCounting(id: string, event: JobEventName, detail: string | null, counter: { calls: number }) {
  return async (key: string): Promise<EventReport> => {
    counter.calls += 1;
    const { applied, publishError } = await recordEvent(jobs, id, event, detail, key);
    if (!('recorded' in applied)) return { ignored: applied.ignored };
    return { recorded: applied.recorded, status: applied.job.status, duplicate: applied.duplicate === true, published: publishError === undefined, publish_error: publishError ?? null };
  };
}

describe('mam job event through the job daemon', () => {
  it('records and publishes through a running daemon, and keeps every exit code', async () => {
    await startDaemon();
    const job = await newJob();
    const seen = await subscribeTo(job.job_id);

    const where = ['--registry-dir', jobs.dir];
    const first = await mam(['job', 'event', job.job_id, '--event', 'started', '--json', ...where], env);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ job_id: job.job_id, event: 'started', seq: 2, status: 'running', published: true, publish_error: null });
    const second = await mam(['job', 'event', job.job_id, '--event', 'completed', '--detail', 'done', ...where], env);
    expect([second.code, second.stdout.trim()]).toEqual([0, `${job.job_id}: completed recorded (#3), job completed`]);
    await until(() => seen.length === 2, 'the subscriber to receive both events', 60_000);
    expect(seen).toEqual([2, 3]);

    // 1: the job has finished; 1: unknown job; 64: not a job id — the same words as without the daemon.
    const late = await mam(['job', 'event', job.job_id, '--event', 'progress', ...where], env);
    expect([late.code, late.stderr.trim()]).toEqual([1, `mam: job ${job.job_id} is already completed; progress ignored`]);
    const unknown = await mam(['job', 'event', 'j_000000000000000000000000', '--event', 'progress', ...where], env);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, `mam: no job j_000000000000000000000000 in ${jobs.dir} (is it another registry's? pass --registry-dir)`]);
    const bad = await mam(['job', 'event', 'j_nope', '--event', 'progress', ...where], env);
    expect(bad.code).toBe(64);

    const events = checked(await readJobFile(job.job_id));
    expect(events.map((item) => [item.event, item.detail])).toEqual([
      ['started', null],
      ['completed', 'done'],
    ]);
    expect((await auditLines(job)).map((line) => line.seq)).toEqual([1, 2, 3]);
  });

  it('exits 2 when the daemon records the event but no broker takes it', async () => {
    const unreachable = { MAM_MQTT_URL: 'mqtt://127.0.0.1:1' };
    await startDaemon(unreachable);
    const job = await newJob();
    const result = await mam(['job', 'event', job.job_id, '--event', 'progress', '--json', '--registry-dir', jobs.dir], { ...env, ...unreachable });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ seq: 2, status: 'running', published: false, publish_error: 'no broker reachable' });
    expect(checked(await readJobFile(job.job_id)).map((item) => item.event)).toEqual(['progress']);
  });

  it('with no daemon running, the call records its event itself and starts one, which a stale socket does not stop', async () => {
    const files = daemonFiles(env);
    // A daemon that died: its socket file is still there, and nothing listens on it.
    const stale = spawn(process.execPath, ['-e', `require('node:fs').mkdirSync(${JSON.stringify(files.dir)}, {recursive: true}); require('node:net').createServer().listen(${JSON.stringify(files.socket)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' });
    children.push(stale);
    await until(() => stale.signalCode !== null, 'the stand-in daemon to die', 60_000);
    expect(existsSync(files.socket)).toBe(true);
    const job = await newJob();
    const result = await mam(['job', 'event', job.job_id, '--event', 'progress', '--registry-dir', jobs.dir], env);
    expect(result.code).toBe(0);
    expect(checked(await readJobFile(job.job_id)).map((item) => item.event)).toEqual(['progress']);
    const pid = await untilValue(async () => (JSON.parse(await readFile(files.pid, 'utf8').catch(() => '{}')) as { pid?: number }).pid, 'the started daemon to write its pid', 60_000);
    await until(async () => !('unavailable' in (await askDaemon(files.socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'via daemon', key: 'probe-key-1' }, 60_000))), 'the started daemon to answer', 60_000);
    expect(pid).toBeGreaterThan(0);
    expect(checked(await readJobFile(job.job_id)).map((item) => item.detail)).toEqual([null, 'via daemon']);
  });

  it('a daemon that never answers: the call gives up after MAM_JOB_DAEMON_TIMEOUT and records the event once itself', async () => {
    const files = daemonFiles(env);
    const held = new Set<net.Socket>();
    const silent = net.createServer((connection) => held.add(connection));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(files.dir, { recursive: true });
    await new Promise<void>((resolve) => silent.listen(files.socket, resolve));
    closers.push(() => {
      for (const connection of held) connection.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const job = await newJob();
    const result = await mam(['job', 'event', job.job_id, '--event', 'progress', '--registry-dir', jobs.dir], { ...env, MAM_JOB_DAEMON_TIMEOUT: '1' });
    expect(result.code).toBe(0);
    expect(checked(await readJobFile(job.job_id)).map((item) => item.event)).toEqual(['progress']);
  });
});

/**
 * Whether a child of `pid` (the daemon's lock helper, src/registry/lock-keeper.ts, or a `flock` of lock.ts) is
 * blocked waiting for flock(2) on `lockFile`: a `->` line of /proc/locks naming the file's inode.
 */
async function waitingForLock(pid: number, lockFile: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  const inode = (await stat(lockFile)).ino;
  const waiters = (await readFile('/proc/locks', 'utf8'))
    .split('\n')
    .map((line) => /->\s+FLOCK\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)/.exec(line))
    .flatMap((match) => (match && Number(match[2]) === inode ? [Number(match[1])] : []));
  for (const waiter of waiters) {
    const stat = await readFile(`/proc/${waiter}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return true;
  }
  return false;
}

/**
 * runJobDaemon in this process (so a test can fill its queue), publishing nowhere; stopped after the test. A batch
 * starts at once (gatherMs 0): the first event is in it before the next arrives, whatever the machine's speed.
 */
async function inProcessDaemon(maxQueue?: number): Promise<void> {
  const stop = new AbortController();
  let log = '';
  const done = runJobDaemon({ files: daemonFiles(env), idleExitMs: 600_000, gatherMs: 0, ...(maxQueue === undefined ? {} : { maxQueue }), lock: { timeoutMs: 60_000 }, transport: async () => undefined, now: Date.now, log: (line) => (log += `${line}\n`), signal: stop.signal });
  closers.push(async () => {
    stop.abort();
    await done;
  });
  await until(() => log.includes('listening on'), 'the in-process daemon to listen', 60_000, { detail: () => log });
}

describe('the job daemon loses nothing and records nothing twice', () => {
  it('killed mid-batch: the callers it held record their events themselves, each once', async () => {
    const unreachable = { ...env, MAM_MQTT_URL: 'mqtt://127.0.0.1:1' };
    const daemon = await startDaemon(unreachable);
    const job = await newJob();
    // Holding the jobs directory's lock keeps the daemon inside its batch: events accepted, none recorded yet.
    const lock = await acquireLock(path.join(jobs.dir, '.lock'));
    const counter = { calls: 0 };
    const calls = Array.from({ length: 20 }, (_, index) => reportEvent(unreachable, { dir: jobs.dir, id: job.job_id, event: 'progress', detail: `e${index}` }, directCounting(job.job_id, 'progress', `e${index}`, counter)));
    await until(() => waitingForLock(daemon.pid!, path.join(jobs.dir, '.lock')), 'the daemon to be inside a batch, waiting for the lock', 60_000);
    daemon.kill('SIGKILL');
    await until(() => daemon.signalCode !== null, 'the daemon to die', 60_000);
    await until(() => counter.calls === 20, 'every caller to record its event itself', 60_000);
    await lock.release();
    const reports = await Promise.all(calls);
    expect(reports.every((report) => 'recorded' in report && !report.duplicate)).toBe(true);
    const events = checked(await readJobFile(job.job_id));
    expect(events.map((item) => item.detail).sort()).toEqual(Array.from({ length: 20 }, (_, index) => `e${index}`).sort());
    expect((await auditLines(job)).length).toBe(21);
  });

  it('a full queue answers busy: those callers record their events themselves, and none is lost or doubled', async () => {
    await inProcessDaemon(1);
    const job = await newJob();
    const lock = await acquireLock(path.join(jobs.dir, '.lock'));
    const counter = { calls: 0 };
    const calls = Array.from({ length: 12 }, (_, index) => reportEvent(env, { dir: jobs.dir, id: job.job_id, event: 'progress', detail: `e${index}` }, directCounting(job.job_id, 'progress', `e${index}`, counter)));
    // One event in the batch waiting for the lock, one in the queue (its limit): the other ten are told busy.
    await until(() => counter.calls === 10, 'ten callers to be told busy and record their events themselves', 60_000);
    await lock.release();
    const reports = await Promise.all(calls);
    expect(reports.every((report) => 'recorded' in report)).toBe(true);
    expect(counter.calls).toBe(10);
    expect(checked(await readJobFile(job.job_id)).map((item) => item.detail).sort()).toEqual(Array.from({ length: 12 }, (_, index) => `e${index}`).sort());
  });

  it('a caller killed mid-event: a whole request is still recorded, half a one is not, and the daemon carries on', async () => {
    await inProcessDaemon();
    const job = await newJob();
    const socket = daemonFiles(env).socket;
    const send = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const connection = net.createConnection(socket, () => connection.end(text, () => (connection.destroy(), resolve())));
      });
    await send(`${JSON.stringify({ v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'half', key: 'half-request-1' })}`.slice(0, 60));
    await send(`${JSON.stringify({ v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'whole', key: 'whole-request-1' })}\n`);
    await until(async () => (await readJobFile(job.job_id)).events.length === 2, 'the whole request to be recorded', 60_000);
    const after = await askDaemon(socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'next', key: 'next-request-1' }, 60_000);
    expect(after).toMatchObject({ recorded: { seq: 3 }, published: false, publish_error: 'no broker reachable' });
    expect(checked(await readJobFile(job.job_id)).map((item) => item.detail)).toEqual(['whole', 'next']);
  });

  it('an event recorded one way is found, not recorded again, when the same call is retried the other way', async () => {
    await inProcessDaemon();
    const job = await newJob();
    const socket = daemonFiles(env).socket;
    const viaDaemon = await askDaemon(socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'a', key: 'key-aaaaaaaa' }, 60_000);
    expect(viaDaemon).toMatchObject({ recorded: { seq: 2 }, duplicate: false });
    const retried = await recordEvent(jobs, job.job_id, 'progress', 'a', 'key-aaaaaaaa');
    expect(retried.applied).toMatchObject({ recorded: { seq: 2, key: 'key-aaaaaaaa' }, duplicate: true });

    await recordEvent(jobs, job.job_id, 'completed', 'b', 'key-bbbbbbbb');
    const again = await askDaemon(socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'completed', detail: 'b', key: 'key-bbbbbbbb' }, 60_000);
    // Found as recorded although the job is completed now: the retry of the call that completed it.
    expect(again).toMatchObject({ recorded: { seq: 3 }, duplicate: true, status: 'completed' });
    expect(checked(await readJobFile(job.job_id)).map((item) => item.key)).toEqual(['key-aaaaaaaa', 'key-bbbbbbbb']);
    expect((await auditLines(await readJobFile(job.job_id))).map((line) => line.seq)).toEqual([1, 2, 3]);
  });

  it('out of order: a completed among events in flight ends the job; what came after it is refused, the rest kept in seq order', async () => {
    await startDaemon();
    const job = await newJob();
    const seen = await subscribeTo(job.job_id);
    const names: JobEventName[] = ['progress', 'progress', 'started', 'progress', 'completed', 'progress', 'permission_required', 'progress'];
    const counter = { calls: 0 };
    const reports = await Promise.all(names.map((name, index) => reportEvent(env, { dir: jobs.dir, id: job.job_id, event: name, detail: `${name}-${index}` }, directCounting(job.job_id, name, `${name}-${index}`, counter))));
    expect(counter.calls).toBe(0);
    const events = checked(await readJobFile(job.job_id));
    expect(events.at(-1)!.event).toBe('completed');
    // Each call's answer agrees with the file: recorded at the seq the file has, or refused and absent from it.
    names.forEach((name, index) => {
      const report = reports[index]!;
      const inFile = events.find((item) => item.detail === `${name}-${index}`);
      if ('recorded' in report) expect(inFile?.seq).toBe(report.recorded.seq);
      else {
        expect(report).toEqual({ ignored: `job ${job.job_id} is already completed; ${name} ignored` });
        expect(inFile).toBeUndefined();
      }
    });
    await until(() => seen.length === events.length, 'the subscriber to receive every recorded event', 60_000);
    expect(seen).toEqual(events.map((item) => item.seq));
  });
});

describe('the fast path under pressure and beside other writers', () => {
  it('many callers at once: every event recorded exactly once, whichever path took it', async () => {
    await startDaemon();
    const job = await newJob();
    const counter = { calls: 0 };
    const count = 300;
    const reports = await Promise.all(
      Array.from({ length: count }, (_, index) => reportEvent(env, { dir: jobs.dir, id: job.job_id, event: 'progress', detail: `m${index}` }, directCounting(job.job_id, 'progress', `m${index}`, counter))),
    );
    expect(reports.every((report) => 'recorded' in report && report.published)).toBe(true);
    const events = checked(await readJobFile(job.job_id));
    expect(events.map((item) => item.detail).sort()).toEqual(Array.from({ length: count }, (_, index) => `m${index}`).sort());
    // Each answer names the seq the file gave its event.
    reports.forEach((report, index) => 'recorded' in report && expect(events.find((item) => item.detail === `m${index}`)?.seq).toBe(report.recorded.seq));
    expect((await auditLines(job)).length).toBe(count + 1);
  });

  it('a frozen daemon (SIGSTOP) with its socket full of requests: callers time out and record themselves, and the daemon, thawed, records none twice', async () => {
    const daemon = await startDaemon();
    const job = await newJob();
    const socket = daemonFiles(env).socket;
    expect(await askDaemon(socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'before', key: 'before-freeze' }, 60_000)).toMatchObject({ recorded: { seq: 2 } });
    daemon.kill('SIGSTOP');
    const frozen = { ...env, MAM_JOB_DAEMON_TIMEOUT: '1' };
    const counter = { calls: 0 };
    const count = 30;
    const reports = await Promise.all(
      Array.from({ length: count }, (_, index) => reportEvent(frozen, { dir: jobs.dir, id: job.job_id, event: 'progress', detail: `f${index}` }, directCounting(job.job_id, 'progress', `f${index}`, counter))),
    );
    expect(counter.calls).toBe(count);
    expect(reports.every((report) => 'recorded' in report && !report.duplicate)).toBe(true);
    daemon.kill('SIGCONT');
    // The thawed daemon accepts the connections its socket held, in order, then this probe's behind them; it reads
    // their requests (already there) with the probe's at the latest, so it has recorded them — finding each there
    // already — by the time it answers the probe, and surely by a second probe in a later batch.
    expect(await askDaemon(socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'after', key: 'after-thaw-1' }, 60_000)).toMatchObject({ recorded: { seq: count + 3 }, duplicate: false });
    expect(await askDaemon(socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'after 2', key: 'after-thaw-2' }, 60_000)).toMatchObject({ recorded: { seq: count + 4 }, duplicate: false });
    const events = checked(await readJobFile(job.job_id));
    expect(events.map((item) => item.detail).sort()).toEqual(['before', ...Array.from({ length: count }, (_, index) => `f${index}`), 'after', 'after 2'].sort());
    expect((await auditLines(job)).length).toBe(count + 4);
  });

  it('interleaves with direct writers: bash `flock` editing the file in place and mam recording directly, none lost', async () => {
    await startDaemon();
    const job = await newJob();
    // A script following the documented locking: under `flock <jobs dir>/.lock`, read the file, add an event, write
    // it back in place (same inode, so only size and times tell the daemon's cache it changed).
    const edit = `const fs = require('node:fs'); const f = process.env.FILE; const j = JSON.parse(fs.readFileSync(f, 'utf8'));
      j.events.push({ seq: j.events.at(-1).seq + 1, event: 'progress', at: new Date().toISOString(), detail: 'bash-' + process.env.I, key: 'bash-key-' + process.env.I });
      fs.writeFileSync(f, JSON.stringify(j, null, 2) + '\\n');`;
    const bashWrites = 8;
    const script = `for I in $(seq 1 ${bashWrites}); do export I; flock "$DIR/.lock" node -e "$EDIT" || exit 1; done`;
    const writer = spawn('bash', ['-c', script], { env: { PATH: process.env['PATH'], DIR: jobs.dir, FILE: path.join(jobs.dir, `${job.job_id}.json`), EDIT: edit }, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(writer);
    let writerErrors = '';
    writer.stderr!.on('data', (chunk: Buffer) => (writerErrors += chunk.toString()));
    const writerDone = new Promise<number | null>((resolve) => writer.once('close', resolve));
    const counter = { calls: 0 };
    const viaDaemon = Array.from({ length: 60 }, (_, index) => reportEvent(env, { dir: jobs.dir, id: job.job_id, event: 'progress', detail: `d${index}` }, directCounting(job.job_id, 'progress', `d${index}`, counter)));
    const direct = Array.from({ length: 10 }, (_, index) => recordEvent(jobs, job.job_id, 'progress', `m${index}`, `mam-direct-${index}`));
    await Promise.all([...viaDaemon, ...direct]);
    expect(await writerDone, writerErrors).toBe(0);
    const events = checked(await readJobFile(job.job_id));
    const expected = [...Array.from({ length: bashWrites }, (_, index) => `bash-${index + 1}`), ...Array.from({ length: 60 }, (_, index) => `d${index}`), ...Array.from({ length: 10 }, (_, index) => `m${index}`)];
    expect(events.map((item) => item.detail).sort()).toEqual(expected.sort());
    // Once more through the daemon after the last in-place edit: it reads the edited file, not what it cached.
    const last = await askDaemon(daemonFiles(env).socket, { v: 1, dir: jobs.dir, id: job.job_id, event: 'progress', detail: 'last', key: 'last-event-1' }, 60_000);
    expect(last).toMatchObject({ recorded: { seq: expected.length + 2 } });
    expect(checked(await readJobFile(job.job_id)).length).toBe(expected.length + 1);
  });

  it('with the daemon down, the call falls back and every exit code holds: 0, 2, 1', async () => {
    const job = await newJob();
    const where = ['--registry-dir', jobs.dir];
    const recorded = await mam(['job', 'event', job.job_id, '--event', 'progress', '--json', ...where], env);
    expect([recorded.code, JSON.parse(recorded.stdout)]).toEqual([0, { job_id: job.job_id, event: 'progress', seq: 2, status: 'running', published: true, publish_error: null }]);
    // No broker for this setting, and no daemon for it either (the digest differs): recorded, not published.
    const unreachable = { ...env, MAM_MQTT_URL: 'mqtt://127.0.0.1:1' };
    const unpublished = await mam(['job', 'event', job.job_id, '--event', 'completed', '--json', ...where], unreachable);
    expect(unpublished.code).toBe(2);
    expect(JSON.parse(unpublished.stdout)).toMatchObject({ seq: 3, status: 'completed', published: false });
    const late = await mam(['job', 'event', job.job_id, '--event', 'progress', ...where], { ...env, MAM_JOB_DAEMON_DIR: path.join(box.root, 'cache', 'mam', 'jobd-none-here') });
    expect([late.code, late.stderr.trim()]).toEqual([1, `mam: job ${job.job_id} is already completed; progress ignored`]);
    expect(checked(await readJobFile(job.job_id)).map((item) => item.event)).toEqual(['progress', 'completed']);
  });
});
