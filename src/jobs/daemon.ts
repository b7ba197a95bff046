import { chmod, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { errorMessage } from '../util/errors.js';
import { withLock, type LockOptions } from '../registry/lock.js';
import { lockKeeper } from '../registry/lock-keeper.js';
import { brokerOptionsFromEnv } from '../mqtt/options.js';
import { recordBatch, type BatchResult, type EventOutcome, type EventRequest } from './batch.js';
import { JobFileCache } from './job-cache.js';
import type { DaemonFiles, DaemonReply } from './daemon-client.js';
import { DaemonRequest } from './daemon-request.js';
import { stateOf } from './service.js';
import type { JobFile } from './schema.js';
import type { JobTransport } from './transport.js';

/**
 * The job daemon (`mam job daemon`): a resident process `mam job event` hands events to over a unix socket
 * (src/jobs/daemon-client.ts), so a call costs a Node start and a round trip instead of an MQTT connect and an fsync
 * of its own (bench/jobs.bench.ts). Events that arrive together are recorded together (src/jobs/batch.ts: one lock
 * and one fsynced write per job per batch), then published over the daemon's one broker connection; each caller is
 * answered only after that — so an answer means "in the job file", and `published: true` "acknowledged by the
 * broker", exactly what the call's exit code says. A batch is recorded and published before the next starts, so
 * events reach subscribers in seq order.
 *
 * Nothing is lost when it fails: a caller with no answer (no daemon, refused, killed mid-batch, too slow, busy)
 * records the event itself under the same key, and whichever comes second finds it recorded. A caller killed after
 * sending still has its event recorded. One daemon per socket: under the lock, a starter that finds one answering
 * leaves; one that finds a dead socket file removes it. Started detached by the first `mam job event` that found
 * none; exits after `idleExitMs` without a request, finishing what it accepted first (also on SIGTERM).
 */
export interface JobDaemonOptions {
  readonly files: DaemonFiles;
  /** Exit after this long without a request. */
  readonly idleExitMs: number;
  /** Events waiting beyond which a caller is told `busy` (and records its event itself). */
  readonly maxQueue?: number;
  /** Events recorded in one batch at most. */
  readonly maxBatch?: number;
  /** How long a batch waits for more events before it starts, unless it is full (default 5 ms; 0: it starts at once). */
  readonly gatherMs?: number;
  readonly lock: LockOptions;
  /** The broker connection, made on first use; undefined while no broker can be reached. */
  readonly transport: () => Promise<JobTransport | undefined>;
  readonly now: () => number;
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
}

export type DaemonExit = 'idle' | 'stopped' | 'already running';

/** A request line longer than this is refused: `--detail` is meant for a sentence, not a file. */
const MAX_LINE = 1024 * 1024;

interface Pending {
  readonly request: EventRequest;
  readonly answer: (reply: DaemonReply) => void;
}

export async function runJobDaemon(options: JobDaemonOptions): Promise<DaemonExit> {
  const { files, log } = options;
  const maxQueue = options.maxQueue ?? 10_000;
  const maxBatch = options.maxBatch ?? 1_000;
  const gatherMs = options.gatherMs ?? 5;
  const queue: Pending[] = [];
  // Jobs directories' locks taken without a fork per batch, and job files kept between batches.
  const keeper = lockKeeper();
  const cache = new JobFileCache();
  const sockets = new Set<net.Socket>();
  let draining: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let reason: DaemonExit = 'stopped';
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));

  const armIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (queue.length > 0 || draining) return armIdle();
      reason = 'idle';
      stop();
    }, options.idleExitMs);
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    armIdle();
    let buffer = '';
    socket.setEncoding('utf8');
    // A caller killed mid-event: its event, if it arrived whole, is still recorded; the answer has nowhere to go.
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    const answer = (reply: DaemonReply): void => {
      if (!socket.destroyed) socket.end(`${JSON.stringify(reply)}\n`);
    };
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) {
        if (buffer.length > MAX_LINE) answer({ error: `job daemon: a request longer than ${MAX_LINE} bytes; not recorded`, exit_code: 1 });
        return;
      }
      const line = buffer.slice(0, end);
      buffer = '';
      socket.removeAllListeners('data');
      accept(line, answer);
    });
  });

  const accept = (line: string, answer: (reply: DaemonReply) => void): void => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return answer({ error: 'job daemon: a request that is not JSON; not recorded', exit_code: 1 });
    }
    const parsed = DaemonRequest.safeParse(value);
    if (!parsed.success) return answer({ error: `job daemon: not a job event request (${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`).join('; ')}); not recorded`, exit_code: 1 });
    if (queue.length >= maxQueue) return answer({ busy: true });
    const { dir, id, event, detail, key } = parsed.data;
    queue.push({ request: { dir, id, event, detail, key }, answer });
    draining ??= drain().finally(() => {
      draining = undefined;
      armIdle();
    });
  };

  const drain = async (): Promise<void> => {
    // Batch N+1 is recorded while batch N is being published; publishing stays one batch at a time, in batch order,
    // so subscribers still get every job's events in seq order, and each caller is answered after its own publish.
    let publishing: Promise<void> | undefined;
    while (queue.length > 0) {
      // Callers answered by the last batch send their next events within a few ms: waiting that long for them makes
      // one batch of what would be many, and each batch costs a lock and a write per job.
      if (gatherMs > 0 && queue.length < maxBatch) await new Promise((resolve) => setTimeout(resolve, gatherMs));
      const batch = queue.splice(0, maxBatch);
      const requests = batch.map((item) => item.request);
      const answerAll = (replies: readonly DaemonReply[]): void => batch.forEach((item, index) => item.answer(replies[index]!));
      // recordBatch answers per event; the catches are for the unforeseen, which must still answer every caller.
      const unforeseen = (error: unknown): DaemonReply[] => batch.map(() => ({ error: `job daemon: ${errorMessage(error)}`, exit_code: 1 }));
      let recorded: BatchResult;
      try {
        recorded = await recordBatch(requests, { now: options.now, lock: options.lock, withLock: keeper.withLock, cache });
      } catch (error) {
        answerAll(unforeseen(error));
        continue;
      }
      const previous = publishing;
      publishing = (async () => {
        await previous;
        answerAll(await publishAndReply(requests, recorded, options.transport).catch(unforeseen));
      })();
    }
    await publishing;
  };

  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const listening = await withLock(
    files.lock,
    async () => {
      if (await answers(files.socket)) return false;
      await unlink(files.socket).catch(() => undefined);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(files.socket, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await chmod(files.socket, 0o600);
      await writeFile(files.pid, `${JSON.stringify({ pid: process.pid })}\n`, { mode: 0o600 });
      return true;
    },
    options.lock,
  );
  if (!listening) {
    log(`mam job daemon: another is listening on ${files.socket}; leaving`);
    return 'already running';
  }
  log(`mam job daemon: listening on ${files.socket}, pid ${process.pid}, idle exit ${Math.round(options.idleExitMs / 1000)} s`);
  armIdle();
  const onAbort = (): void => stop();
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', onAbort);

  await stopped;
  options.signal.removeEventListener('abort', onAbort);
  if (idleTimer) clearTimeout(idleTimer);
  // No new callers from here; those already accepted are recorded and answered first.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await removeOwn(files);
  while (draining) await draining;
  for (const socket of sockets) socket.destroy();
  keeper.close();
  await closed;
  await (await options.transport().catch(() => undefined))?.close().catch(() => undefined);
  log(`mam job daemon: stopped (${reason}), pid ${process.pid}`);
  return reason;
}

/** Publishes what a batch recorded, and says to each caller what happened to its event. */
async function publishAndReply(requests: readonly EventRequest[], { outcomes, jobs }: BatchResult, transport: JobDaemonOptions['transport']): Promise<DaemonReply[]> {
  const publishErrors = await publish(requests, outcomes, jobs, transport);
  return outcomes.map((outcome, index): DaemonReply => {
    if ('error' in outcome) return { error: outcome.error, exit_code: outcome.exitCode };
    const { applied } = outcome;
    if ('ignored' in applied) return { ignored: applied.ignored };
    const error = publishErrors[index];
    return { recorded: applied.recorded, status: applied.job.status, duplicate: applied.duplicate === true, published: error === undefined, publish_error: error ?? null };
  });
}

/** Every recorded event (QoS 1), then each job's retained state; per request, why it was not published. */
async function publish(requests: readonly EventRequest[], outcomes: readonly EventOutcome[], jobs: readonly JobFile[], connect: () => Promise<JobTransport | undefined>): Promise<(string | undefined)[]> {
  const errors: (string | undefined)[] = requests.map(() => undefined);
  const recorded = outcomes.flatMap((outcome, index) => ('applied' in outcome && 'recorded' in outcome.applied ? [{ index, event: outcome.applied.recorded }] : []));
  if (recorded.length === 0) return errors;
  const transport = await connect().catch(() => undefined);
  if (!transport) {
    for (const { index } of recorded) errors[index] = 'no broker reachable';
    return errors;
  }
  // Issued in seq order over one connection, so the broker delivers them in that order.
  const sent = await Promise.allSettled(recorded.map(({ index, event }) => transport.publishEvent(requests[index]!.id, event)));
  const states = new Map(
    await Promise.all(
      jobs.map(async (job) => [job.job_id, await transport.publishState(stateOf(job)).then(() => undefined, (error: unknown) => errorMessage(error))] as const),
    ),
  );
  recorded.forEach(({ index }, at) => {
    const result = sent[at]!;
    errors[index] = result.status === 'rejected' ? errorMessage(result.reason) : states.get(requests[index]!.id);
  });
  return errors;
}

/** Whether something accepts connections on `socket`. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(socket);
    const finish = (ok: boolean): void => {
      probe.destroy();
      resolve(ok);
    };
    probe.setTimeout(2_000, () => finish(false));
    probe.once('connect', () => finish(true));
    probe.once('error', () => finish(false));
  });
}

/** Removes the socket and pid file when they are this process's (a successor may have taken them over). */
async function removeOwn(files: DaemonFiles): Promise<void> {
  const pid = await readFile(files.pid, 'utf8').then((text) => (JSON.parse(text) as { pid?: unknown }).pid, () => undefined);
  if (pid !== process.pid) return;
  await unlink(files.socket).catch(() => undefined);
  await unlink(files.pid).catch(() => undefined);
}

/**
 * The daemon's broker connection: `$MAM_MQTT_URL` or the embedded broker (started if need be), connected on first
 * use and again after a failure (at most every 5 s), so a broker that comes back is used again.
 */
export function daemonTransport(env: NodeJS.ProcessEnv, log: (line: string) => void, now: () => number = Date.now): () => Promise<JobTransport | undefined> {
  let current: Promise<JobTransport | undefined> | undefined;
  let failedAt: number | undefined;
  return () => {
    if (current && (failedAt === undefined || now() - failedAt < 5_000)) return current;
    failedAt = undefined;
    current = import('./mqtt.js')
      .then(({ connectTransport }) => connectTransport({ ...brokerOptionsFromEnv(env), clientId: `mam-jobd-${process.pid}`, env, publishTimeoutMs: 5_000 }))
      .catch((error: unknown) => {
        failedAt = now();
        log(`mam job daemon: ${errorMessage(error)}; events are recorded, not published (exit 2), until a broker answers`);
        return undefined;
      });
    return current;
  };
}
