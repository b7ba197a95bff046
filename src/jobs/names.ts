/**
 * The job id alphabet and event names, zod-free like src/registry/patterns.ts: `mam job event`, which an agent runs
 * for every event, checks them before handing the event to the job daemon, and loading zod for that would cost more
 * than the rest of the call (bench/oneshot.bench.ts). src/jobs/schema.ts builds its zod types on these.
 */

/** Fresh, unguessable ids: `j_` + 24 hex characters (96 random bits). Validated on every use. */
export const JOB_ID_PATTERN = /^j_[0-9a-f]{24}$/;

/** The events an agent reports. */
export const JOB_EVENTS = ['started', 'permission_required', 'progress', 'completed', 'error'] as const;
export type JobEventName = (typeof JOB_EVENTS)[number];

export function isJobEventName(name: string): name is JobEventName {
  return (JOB_EVENTS as readonly string[]).includes(name);
}

/**
 * An event's key: the id a `mam job event` call gives its event, recorded with it, so that a retry of the same
 * call (after the job daemon went away without answering) finds it recorded instead of recording it twice.
 */
export const EVENT_KEY_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
