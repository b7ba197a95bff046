import { TERMINAL_STATUSES, type JobEvent, type JobEventName, type JobFile, type JobStatus } from './schema.js';

/**
 * What an event or the clock does to a job: pure functions of the job file's contents. The state
 * machine is `pending → running → completed | error | timeout`; once terminal, nothing changes it.
 */
export type Applied = { readonly job: JobFile; readonly recorded: JobEvent; readonly duplicate?: true } | { readonly job: JobFile; readonly ignored: string };

const NEXT: Record<JobEventName, JobStatus> = {
  started: 'running',
  permission_required: 'running',
  progress: 'running',
  completed: 'completed',
  error: 'error',
};

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * `key` (src/jobs/names.ts) names the reporting call: an event with that key already in the file is that call
 * retried, and comes back as recorded (`duplicate`) with the file unchanged — also when it ended the job.
 */
export function applyEvent(job: JobFile, event: JobEventName, detail: string | null, now: number, key?: string): Applied {
  const earlier = key === undefined ? undefined : job.events.find((item) => item.key === key);
  if (earlier) return { job, recorded: earlier, duplicate: true };
  if (isTerminal(job.status)) return { job, ignored: `job ${job.job_id} is already ${job.status}; ${event} ignored` };
  const at = new Date(now).toISOString();
  const recorded: JobEvent = { seq: nextSeq(job), event, at, detail, ...(key === undefined ? {} : { key }) };
  const status = NEXT[event];
  return {
    job: {
      ...job,
      status,
      updated_at: at,
      last_event_at: at,
      reason: status === 'error' ? (detail ?? 'the agent reported an error') : status === 'completed' ? null : job.reason,
      events: [...job.events, recorded],
    },
    recorded,
  };
}

/**
 * The overall and idle limits, judged from the file's own timestamps — never from when the waiting
 * process started — so they hold across a restart of whoever waits.
 */
export function timedOut(job: JobFile, now: number): JobFile | undefined {
  if (isTerminal(job.status)) return undefined;
  const created = Date.parse(job.created_at);
  const lastEvent = Date.parse(job.last_event_at);
  let reason: string | undefined;
  if (now - created >= job.timeout_s * 1000) reason = `overall timeout: not finished within ${job.timeout_s} s of submission`;
  else if (now - lastEvent >= job.idle_timeout_s * 1000) reason = `idle timeout: no event for ${job.idle_timeout_s} s (last at ${job.last_event_at})`;
  if (!reason) return undefined;
  const at = new Date(now).toISOString();
  return { ...job, status: 'timeout', reason, updated_at: at, events: [...job.events, { seq: nextSeq(job), event: 'timeout', at, detail: reason }] };
}

/** When the job would time out if nothing happens, for a waiter's next wake-up. */
export function nextDeadline(job: JobFile): number {
  return Math.min(Date.parse(job.created_at) + job.timeout_s * 1000, Date.parse(job.last_event_at) + job.idle_timeout_s * 1000);
}

function nextSeq(job: JobFile): number {
  return (job.events.at(-1)?.seq ?? 0) + 1;
}
