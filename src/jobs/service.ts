import { errorMessage } from '../util/errors.js';
import type { LockOptions } from '../registry/lock.js';
import { AuditLog } from './audit.js';
import { applyEvent, isTerminal, nextDeadline, timedOut, type Applied } from './events.js';
import { type JobEventName, type JobFile, type JobStateMessage } from './schema.js';
import { newJobId, readJob, updateJob, writeNewJob } from './store.js';
import type { JobTransport } from './transport.js';

/**
 * The job operations, over the job file (the record) and an optional transport. The order is always:
 * write the file, then publish. A subscriber that was away catches up from the file, so no ordering of
 * processes (subscriber first, agent second) is ever needed for correctness.
 */
export interface JobContext {
  readonly dir: string;
  /** Where each job's audit log folder is made (`<logsRoot>/<job_id>/`). */
  readonly logsRoot: string;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  readonly lock: LockOptions;
  /** Connects on first use; undefined when no broker can be reached (the file still is the record). */
  readonly transport: () => Promise<JobTransport | undefined>;
}

export interface NewJob {
  readonly agent: string;
  readonly prompt: string;
  readonly workdir: string;
  readonly agentSession: string | null;
  readonly timeoutS: number;
  readonly idleTimeoutS: number;
  readonly validate: string | null;
}

export async function createJob(context: JobContext, spec: NewJob): Promise<JobFile> {
  const id = newJobId();
  const at = new Date(context.now()).toISOString();
  const job: JobFile = {
    job_id: id,
    agent: spec.agent,
    prompt: spec.prompt,
    workdir: spec.workdir,
    agent_session: spec.agentSession,
    status: 'pending',
    created_at: at,
    updated_at: at,
    timeout_s: spec.timeoutS,
    idle_timeout_s: spec.idleTimeoutS,
    last_event_at: at,
    reason: null,
    validate: spec.validate,
    logs_dir: AuditLog.for(context.logsRoot, id).dir,
    events: [{ seq: 1, event: 'submitted', at, detail: null }],
  };
  await writeNewJob(context.dir, job, context.lock);
  await new AuditLog(job.logs_dir).event(job.events[0]!);
  // Nothing is published yet: a dry run must not start a broker, and waiters read the file anyway.
  return job;
}

export interface Recorded {
  readonly applied: Applied;
  /** Undefined when published; otherwise why not (the event is in the job file regardless). */
  readonly publishError: string | undefined;
}

/**
 * Records one event (the job file under its lock, then the audit log) and publishes it. `key`: see applyEvent; an
 * event already recorded under it is published again (a subscriber tells the replay by its seq) and not re-logged.
 */
export async function recordEvent(context: JobContext, id: string, event: JobEventName, detail: string | null, key?: string): Promise<Recorded> {
  const applied = await updateJob<Applied>(
    context.dir,
    id,
    (job) => {
      const result = applyEvent(job, event, detail, context.now(), key);
      return 'recorded' in result && !result.duplicate ? { job: result.job, result } : { job: undefined, result };
    },
    context.lock,
  );
  if (!('recorded' in applied)) return { applied, publishError: undefined };
  if (!applied.duplicate) await new AuditLog(applied.job.logs_dir).event(applied.recorded);
  let publishError: string | undefined;
  try {
    const transport = await context.transport();
    if (!transport) publishError = 'no broker reachable';
    else {
      await transport.publishEvent(id, applied.recorded);
      await transport.publishState(stateOf(applied.job));
    }
  } catch (error) {
    publishError = errorMessage(error);
  }
  return { applied, publishError };
}

/**
 * Waits until every job in `ids` is terminal, marking timeouts as they fall due. Woken by events on the
 * transport when there is one; otherwise (broker down) it re-reads the files every `pollMs`.
 */
export async function waitForJobs(context: JobContext, ids: readonly string[], options: { pollMs?: number; limitMs?: number; onEvents?: (job: JobFile, fresh: JobFile['events']) => void } = {}): Promise<{ jobs: JobFile[]; finished: boolean }> {
  const pollMs = options.pollMs ?? 1_000;
  const stopAt = options.limitMs === undefined ? Number.POSITIVE_INFINITY : context.now() + options.limitMs;
  let wake: (() => void) | undefined;
  const transport = await context.transport().catch(() => undefined);
  transport?.onEvent((message) => {
    if (ids.includes(message.jobId)) wake?.();
  });
  await Promise.all(ids.map((id) => transport?.subscribe(id))).catch(() => undefined);
  const seen = new Map<string, number>();
  try {
    for (;;) {
      const jobs: JobFile[] = [];
      for (const id of ids) {
        let job = await readJob(context.dir, id);
        const expired = timedOut(job, context.now());
        if (expired) job = await markTimedOut(context, id);
        const before = seen.get(id) ?? 0;
        if (before !== job.events.length) {
          seen.set(id, job.events.length);
          options.onEvents?.(job, job.events.slice(before));
        }
        jobs.push(job);
      }
      if (jobs.every((job) => isTerminal(job.status))) return { jobs, finished: true };
      const now = context.now();
      if (now >= stopAt) return { jobs, finished: false };
      // A loop, not Math.min(...deadlines): a spread of one argument per job overflows the stack on many jobs.
      let due = stopAt;
      for (const job of jobs) if (!isTerminal(job.status)) due = Math.min(due, nextDeadline(job));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(10, Math.min(pollMs, due - now + 5)));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    await transport?.close().catch(() => undefined);
  }
}

async function markTimedOut(context: JobContext, id: string): Promise<JobFile> {
  const job = await updateJob<JobFile>(
    context.dir,
    id,
    (current) => {
      const expired = timedOut(current, context.now());
      return expired ? { job: expired, result: expired } : { job: undefined, result: current };
    },
    context.lock,
  );
  const last = job.events.at(-1);
  if (last?.event === 'timeout') await new AuditLog(job.logs_dir).event(last);
  await publishState(context, job);
  return job;
}

export function stateOf(job: JobFile): JobStateMessage {
  return { job_id: job.job_id, status: job.status, seq: job.events.at(-1)?.seq ?? 0, updated_at: job.updated_at, reason: job.reason };
}

async function publishState(context: JobContext, job: JobFile): Promise<void> {
  try {
    await (await context.transport())?.publishState(stateOf(job));
  } catch {
    // The file is the record; a retained state message is a convenience for watchers.
  }
}
