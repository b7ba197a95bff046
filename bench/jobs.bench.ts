/**
 * Delegated-job events through the embedded broker.
 *   event latency   recordEvent (job file updated under its lock, then published) → a subscriber has it;
 *                   also the file-updated moment, and the whole `mam job event` CLI (Node start-up included)
 *   baseline        a bare MQTT publish → the same subscriber, measured in the same run (the floor)
 *   throughput      events per second, sustained, through recordEvent and through bare publishes; none lost
 *   job daemon      (issue 15) events handed to `mam job daemon` over its unix socket, one connection per event as a
 *                   `mam job event` call makes, BENCH_JOB_DAEMON_CLIENTS (100) in flight over BENCH_JOB_DAEMON_JOBS
 *                   (10) jobs: events/s from the first send to the last answer (each answer: in the job file, fsynced,
 *                   and acknowledged by the broker), every event checked in the files and at a subscriber; target
 *                   ≥ 1,000/s. And the `mam job event` CLI through the daemon beside `node -e 0` and the direct path
 *                   (MAM_JOB_DAEMON=0), interleaved in one loop: target ≤ 3× `node -e 0` per call.
 *
 * Isolation: temp broker, job, log and daemon directories (MAM_JOB_DAEMON_DIR); the broker and daemon this script
 * started are stopped by pid, the temp tree removed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureEmbeddedBroker } from '../src/mqtt/broker.js';
import { connectTransport } from '../src/jobs/mqtt.js';
import { askDaemon, daemonFiles, newEventKey } from '../src/jobs/daemon-client.js';
import type { JobEvent, JobFile } from '../src/jobs/schema.js';
import { createJob, recordEvent, type JobContext } from '../src/jobs/service.js';
import type { JobTransport } from '../src/jobs/transport.js';

const run = promisify(execFile);
const LATENCY_RUNS = Number(process.env['BENCH_JOB_EVENTS'] ?? 200);
const CLI_RUNS = Number(process.env['BENCH_JOB_CLI'] ?? 15);
const THROUGHPUT = Number(process.env['BENCH_JOB_THROUGHPUT'] ?? 2000);
const DAEMON_EVENTS = Number(process.env['BENCH_JOB_DAEMON_EVENTS'] ?? 5000);
const DAEMON_CLIENTS = Number(process.env['BENCH_JOB_DAEMON_CLIENTS'] ?? 100);
const DAEMON_JOBS = Number(process.env['BENCH_JOB_DAEMON_JOBS'] ?? 10);
const MAM = path.resolve('dist/cli/main.js');
/** Extra node flags for the daemon, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes. */
const DAEMON_NODE_ARGS = (process.env['BENCH_JOB_DAEMON_NODE_ARGS'] ?? '').split(' ').filter(Boolean);

const percentile = (values: number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
const fmt = (values: number[]): string => `median ${percentile(values, 0.5).toFixed(2)} ms, p95 ${percentile(values, 0.95).toFixed(2)} ms`;

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mam-bench-jobs-'));
  const env = { ...process.env, MAM_BROKER_DIR: path.join(root, 'broker'), DELEGATE_JOB_LOGS_DIR: path.join(root, 'logs'), MAM_JOB_DAEMON_DIR: path.join(root, 'jobd'), MAM_JOB_DAEMON: '1' };
  let brokerPid: number | undefined;
  let daemon: ChildProcess | undefined;
  const transports: JobTransport[] = [];
  try {
    const url = await ensureEmbeddedBroker(env);
    brokerPid = (JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(path.join(root, 'broker', 'broker.json'), 'utf8'))) as { pid: number }).pid;
    const connect = async (clientId: string) => {
      const transport = await connectTransport({ url, clientId, env });
      transports.push(transport);
      return transport;
    };
    const publisher = await connect(`bench-pub-${process.pid}`);
    const subscriber = await connect(`bench-sub-${process.pid}`);
    const arrivals = new Map<string, number>();
    let waiting: { key: string; resolve: () => void } | undefined;
    subscriber.onEvent(({ jobId, event }) => {
      const key = `${jobId}#${event.seq}`;
      arrivals.set(key, performance.now());
      if (waiting?.key === key) waiting.resolve();
    });
    await subscriber.subscribe('*');
    const arrived = (key: string) => (arrivals.has(key) ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { key, resolve })));

    const context: JobContext = { dir: path.join(root, 'jobs'), logsRoot: path.join(root, 'delegate_job_logs'), env, now: Date.now, lock: { timeoutMs: 10_000 }, transport: async () => publisher };
    const job = await createJob(context, { agent: 'bench', prompt: 'p', workdir: root, agentSession: null, timeoutS: 86_400, idleTimeoutS: 86_400, validate: null });

    // Event latency through the real path.
    const toFile: number[] = [];
    const toSubscriber: number[] = [];
    for (let index = 0; index < LATENCY_RUNS; index += 1) {
      const started = performance.now();
      const { applied } = await recordEvent(context, job.job_id, 'progress', `step ${index}`);
      const written = performance.now();
      if (!('recorded' in applied)) throw new Error('event ignored');
      await arrived(`${job.job_id}#${applied.recorded.seq}`);
      toFile.push(written - started);
      toSubscriber.push(arrivals.get(`${job.job_id}#${applied.recorded.seq}`)! - started);
    }

    // The floor: a bare publish of the same message, same broker, same subscriber.
    const bare: number[] = [];
    const bareJob = 'j_' + 'b'.repeat(24);
    for (let seq = 1; seq <= LATENCY_RUNS; seq += 1) {
      const event: JobEvent = { seq, event: 'progress', at: new Date().toISOString(), detail: 'bare' };
      const started = performance.now();
      await publisher.publishEvent(bareJob, event);
      await arrived(`${bareJob}#${seq}`);
      bare.push(arrivals.get(`${bareJob}#${seq}`)! - started);
    }

    // The job daemon, started as `mam job event` starts it, and held until the end.
    daemon = spawn(process.execPath, [...DAEMON_NODE_ARGS, MAM, 'job', 'daemon', '--idle-exit', '3600'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      daemon!.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening on') && resolve());
      daemon!.once('exit', (code) => reject(new Error(`mam job daemon exited (${code})`)));
    });
    const socket = daemonFiles(env).socket;

    // The whole CLI, as an agent runs it: through the daemon, directly (MAM_JOB_DAEMON=0, as before the daemon), and
    // `node -e 0`, interleaved so noise falls on all alike.
    const cli: number[] = [];
    const viaDaemon: number[] = [];
    const bareNode: number[] = [];
    const timed = async (argv: string[], extra: NodeJS.ProcessEnv = {}): Promise<number> => {
      const started = performance.now();
      await run(process.execPath, argv, { env: { ...env, ...extra } });
      return performance.now() - started;
    };
    for (let index = 0; index < CLI_RUNS; index += 1) {
      const args = [MAM, 'job', 'event', '--job', job.job_id, '--event', 'progress', '--detail', `cli ${index}`, '--registry-dir', context.dir];
      bareNode.push(await timed(['-e', '0']));
      cli.push(await timed(args, { MAM_JOB_DAEMON: '0' }));
      viaDaemon.push(await timed(args));
    }

    // Sustained through the daemon: DAEMON_CLIENTS calls in flight, one connection per event, over DAEMON_JOBS jobs.
    const daemonJobs: JobFile[] = [];
    for (let index = 0; index < DAEMON_JOBS; index += 1) daemonJobs.push(await createJob(context, { agent: 'bench', prompt: 'p', workdir: root, agentSession: null, timeoutS: 86_400, idleTimeoutS: 86_400, validate: null }));
    let next = 0;
    let answeredPublished = 0;
    const failures: string[] = [];
    // CPU the daemon spends per event (user + sys from /proc, clock ticks of 10 ms): what it would sustain on a core of
    // its own, which a machine loaded by other work does not give it.
    const daemonCpuMs = async (): Promise<number> => {
      const stat = await readFile(`/proc/${daemon!.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    };
    const cpuBefore = await daemonCpuMs();
    const daemonStarted = performance.now();
    await Promise.all(
      Array.from({ length: DAEMON_CLIENTS }, async () => {
        while (next < DAEMON_EVENTS) {
          const index = next++;
          const id = daemonJobs[index % DAEMON_JOBS]!.job_id;
          const reply = await askDaemon(socket, { v: 1, dir: context.dir, id, event: 'progress', detail: `d${index}`, key: newEventKey() }, 120_000);
          if ('recorded' in reply && reply.published) answeredPublished += 1;
          else failures.push(JSON.stringify(reply));
        }
      }),
    );
    const daemonRate = (DAEMON_EVENTS / (performance.now() - daemonStarted)) * 1000;
    const cpuPerEvent = ((await daemonCpuMs()) - cpuBefore) / DAEMON_EVENTS;
    const inFiles = (await Promise.all(daemonJobs.map(async (item) => (JSON.parse(await readFile(path.join(context.dir, `${item.job_id}.json`), 'utf8')) as JobFile).events.length - 1))).reduce((a, b) => a + b, 0);

    // Sustained throughput: recordEvent back to back, then bare publishes; count what arrived.
    const throughputJob = await createJob(context, { agent: 'bench', prompt: 'p', workdir: root, agentSession: null, timeoutS: 86_400, idleTimeoutS: 86_400, validate: null });
    let started = performance.now();
    for (let index = 0; index < THROUGHPUT / 4; index += 1) await recordEvent(context, throughputJob.job_id, 'progress', null);
    const recordedRate = (THROUGHPUT / 4 / (performance.now() - started)) * 1000;
    const rawJob = 'j_' + 'c'.repeat(24);
    started = performance.now();
    await Promise.all(Array.from({ length: THROUGHPUT }, (_, index) => publisher.publishEvent(rawJob, { seq: index + 1, event: 'progress', at: '', detail: null })));
    const rawRate = (THROUGHPUT / (performance.now() - started)) * 1000;
    const deadline = Date.now() + 10_000;
    const count = (id: string) => [...arrivals.keys()].filter((key) => key.startsWith(`${id}#`)).length;
    const atSubscriber = (): number => daemonJobs.reduce((sum, item) => sum + count(item.job_id), 0);
    while ((count(rawJob) < THROUGHPUT || count(throughputJob.job_id) < THROUGHPUT / 4 + 0 || atSubscriber() < DAEMON_EVENTS) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

    const cpu = (await run('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])).stdout.trim();
    console.log(`mam job events benchmark — ${new Date().toISOString()}, ${cpu}, ${os.cpus().length} cores, Node ${process.version}, embedded aedes broker`);
    console.log(`event latency, ${LATENCY_RUNS} events:`);
    console.log(`  recordEvent returns (file written, event + state published) ${fmt(toFile)}`);
    console.log(`  recordEvent → subscriber notified   ${fmt(toSubscriber)}`);
    console.log(`  baseline: bare publish → subscriber ${fmt(bare)}  → ratio ${(percentile(toSubscriber, 0.5) / percentile(bare, 0.5)).toFixed(1)}×`);
    const base = percentile(bareNode, 0.5);
    console.log(`  \`mam job event\` CLI, whole process (${CLI_RUNS} runs), direct (MAM_JOB_DAEMON=0): ${fmt(cli)} → ${(percentile(cli, 0.5) / base).toFixed(2)}× node -e 0`);
    console.log(`  \`mam job event\` CLI through the job daemon (${CLI_RUNS} runs): ${fmt(viaDaemon)} → ${(percentile(viaDaemon, 0.5) / base).toFixed(2)}× node -e 0 (${percentile(viaDaemon, 0.5) / base <= 3 ? 'PASS' : 'MISS'}, target ≤ 3×)`);
    console.log(`  baseline: node -e 0 (${CLI_RUNS} runs): ${fmt(bareNode)}`);
    console.log(`sustained: recordEvent ${recordedRate.toFixed(0)} events/s (file + lock + publish each), bare publish ${rawRate.toFixed(0)} events/s`);
    console.log(`  delivered: ${count(throughputJob.job_id)}/${THROUGHPUT / 4} recorded events, ${count(rawJob)}/${THROUGHPUT} bare events — lost: ${THROUGHPUT / 4 - count(throughputJob.job_id) + THROUGHPUT - count(rawJob)}`);
    console.log(`sustained through the job daemon: ${daemonRate.toFixed(0)} events/s (${DAEMON_EVENTS} events, ${DAEMON_CLIENTS} calls in flight, ${DAEMON_JOBS} jobs; ${daemonRate >= 1000 ? 'PASS' : 'MISS'}, target ≥ 1,000/s)`);
    console.log(`  the daemon's CPU per event: ${cpuPerEvent.toFixed(3)} ms → ${(1000 / cpuPerEvent).toFixed(0)} events/s on a core of its own; load average ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}`);
    console.log(`  answered recorded and published: ${answeredPublished}/${DAEMON_EVENTS}; in the job files: ${inFiles}/${DAEMON_EVENTS}; at the subscriber: ${atSubscriber()}/${DAEMON_EVENTS}${failures.length > 0 ? `; first failure: ${failures[0]}` : ''}`);
    if (answeredPublished !== DAEMON_EVENTS || inFiles !== DAEMON_EVENTS || atSubscriber() !== DAEMON_EVENTS) process.exitCode = 1;
  } finally {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon!.once('exit', resolve));
    }
    await Promise.all(transports.map((transport) => transport.close().catch(() => undefined)));
    if (brokerPid) {
      try {
        process.kill(brokerPid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    await rm(root, { recursive: true, force: true });
  }
}

await main();
