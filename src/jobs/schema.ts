import * as z from 'zod';
import { EVENT_KEY_PATTERN, JOB_EVENTS, JOB_ID_PATTERN } from './names.js';

export { EVENT_KEY_PATTERN, JOB_EVENTS, JOB_ID_PATTERN } from './names.js';

/**
 * A delegated job's file, `<registry dir>/jobs/<job_id>.json` (mode 600, directory 700): the record. An event is
 * written here first, then published; a subscriber that missed a message catches up from this file. Names are
 * those of the delegate-job wrapper `mam job` replaces (docs/jobs.md, 'The job file is the record').
 */

export const JobId = z.string().regex(JOB_ID_PATTERN, { error: 'job ids look like j_ followed by 24 hex digits' });

export const JobEventName = z.enum(JOB_EVENTS);
export type JobEventName = z.infer<typeof JobEventName>;

export const JobStatus = z.enum(['pending', 'running', 'completed', 'error', 'timeout']);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'error', 'timeout'];

export const JobEvent = z.object({
  /** Monotonic per job, from 1: lets a subscriber tell a replay from news. */
  seq: z.number().int().positive(),
  event: z.union([JobEventName, z.enum(['submitted', 'timeout'])]),
  at: z.string(),
  detail: z.string().nullable(),
  /** The id the reporting `mam job event` call gave it (src/jobs/names.ts): a retried call never records it twice. */
  key: z.string().regex(EVENT_KEY_PATTERN).optional(),
});
export type JobEvent = z.infer<typeof JobEvent>;

export const JobFile = z.looseObject({
  job_id: JobId,
  agent: z.string(),
  prompt: z.string(),
  workdir: z.string(),
  /** The tmux session (registry name) running the agent. */
  agent_session: z.string().nullable(),
  status: JobStatus,
  created_at: z.string(),
  updated_at: z.string(),
  /** Overall limit and no-event limit, seconds. */
  timeout_s: z.number().positive(),
  idle_timeout_s: z.number().positive(),
  last_event_at: z.string(),
  reason: z.string().nullable(),
  validate: z.string().nullable(),
  logs_dir: z.string(),
  events: z.array(JobEvent),
});
export type JobFile = z.infer<typeof JobFile>;

/**
 * The retained per-job state message (`mam/v1/jobs/<id>/state`). A reader needs the id, the status and the seq;
 * the rest is a convenience, so a message with an odd `updated_at` or `reason` is still taken, with '' and null
 * in their place, as the transport has always done. Keys are in the order `stateOf` (service.ts) publishes them.
 */
export const JobStateMessage = z.object({
  job_id: z.string(),
  status: JobStatus,
  seq: z.number(),
  updated_at: z.string().catch(''),
  reason: z.string().nullable().catch(null),
});
export type JobStateMessage = z.infer<typeof JobStateMessage>;
