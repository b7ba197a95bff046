import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, MamError } from '../util/errors.js';
import { syncDirectory } from '../registry/atomic.js';
import { withLock, type LockOptions } from '../registry/lock.js';
import { AuditLog } from './audit.js';
import { applyEvent, type Applied } from './events.js';
import type { JobEventName } from './names.js';
import type { JobFile } from './schema.js';
import type { JobFileCache } from './job-cache.js';
import { readJob, writeJob } from './store.js';

/**
 * Many events recorded at once, as the job daemon (src/jobs/daemon.ts) receives them: per jobs directory, one hold
 * of its lock; per job, the events applied in the order they arrived and one atomic, fsynced write of the file, then
 * one append to the audit log. Each event gets what `recordEvent` (src/jobs/service.ts) would have given it alone —
 * the same seq order, the same refusals, the same errors — at one fsync per job and one of the directory per batch instead of two per event.
 */
export interface EventRequest {
  /** The jobs directory, absolute. */
  readonly dir: string;
  readonly id: string;
  readonly event: JobEventName;
  readonly detail: string | null;
  readonly key?: string | undefined;
}

/** An event's outcome: applied (recorded, a duplicate, or ignored), or an error with the exit code it means. */
export type EventOutcome = { readonly applied: Applied } | { readonly error: string; readonly exitCode: number };

export interface BatchResult {
  /** One per request, in the order given. */
  readonly outcomes: readonly EventOutcome[];
  /** Each job that got an event (new or duplicate), as it now is, for its retained state. */
  readonly jobs: readonly JobFile[];
}

export interface BatchOptions {
  readonly now: () => number;
  readonly lock: LockOptions;
  /** How the lock is taken: lock.ts's, or a resident process's long-lived one (src/registry/lock-keeper.ts). */
  readonly withLock?: typeof withLock;
  /** Job files kept between batches (src/jobs/job-cache.ts); without it each is read afresh. */
  readonly cache?: JobFileCache;
}

export async function recordBatch(requests: readonly EventRequest[], options: BatchOptions): Promise<BatchResult> {
  const locked = options.withLock ?? withLock;
  const read = (dir: string, id: string): Promise<JobFile> => (options.cache ? options.cache.read(dir, id) : readJob(dir, id));
  const write = (dir: string, job: JobFile): Promise<string> => (options.cache ? options.cache.write(dir, job) : writeJob(dir, job, { deferDirectorySync: true }));
  const outcomes: EventOutcome[] = new Array(requests.length);
  const jobs: JobFile[] = [];
  const byDir = new Map<string, number[]>();
  for (const [index, request] of requests.entries()) byDir.set(request.dir, [...(byDir.get(request.dir) ?? []), index]);
  await Promise.all(
    [...byDir].map(async ([dir, indices]) => {
      const byJob = new Map<string, number[]>();
      for (const index of indices) byJob.set(requests[index]!.id, [...(byJob.get(requests[index]!.id) ?? []), index]);
      // A folder that is not one: its jobs are said to be unknown, as updateJob says it, rather than a lock failing there.
      if (!(await isDirectory(dir))) {
        for (const [id, members] of byJob) {
          const error = await readJob(dir, id).then(() => new MamError(`${dir}: not a directory`), (failed: unknown) => failed);
          for (const index of members) outcomes[index] = failure(error);
        }
        return;
      }
      try {
        await locked(
          path.join(dir, '.lock'),
          async () => {
            // The events of each directory renamed into: its one fsync, after every job's write, makes them durable.
            const renamed = new Map<string, number[]>();
            await Promise.all(
              [...byJob].map(async ([id, members]) => {
                try {
                  const { job, fresh, recorded } = applyAll(await read(dir, id), members, requests, outcomes, options.now());
                  if (fresh.length > 0) {
                    const directory = await write(dir, job);
                    renamed.set(directory, [...(renamed.get(directory) ?? []), ...members]);
                    await new AuditLog(job.logs_dir).events(fresh);
                  }
                  if (recorded) jobs.push(job);
                } catch (error) {
                  for (const index of members) outcomes[index] = failure(error);
                }
              }),
            );
            await Promise.all(
              [...renamed].map(([directory, members]) =>
                syncDirectory(directory).catch((error: unknown) => {
                  // Written but perhaps not durable: the callers are not told "recorded"; a retry finds the key.
                  for (const index of members) outcomes[index] = failure(error);
                }),
              ),
            );
          },
          options.lock,
        );
      } catch (error) {
        for (const members of byJob.values()) for (const index of members) outcomes[index] ??= failure(error);
      }
    }),
  );
  return { outcomes, jobs };
}

/** Applies one job's events in arrival order: the job after them, the events newly recorded, whether any was recorded (new or duplicate). */
function applyAll(job: JobFile, members: readonly number[], requests: readonly EventRequest[], outcomes: EventOutcome[], now: number): { job: JobFile; fresh: JobFile['events']; recorded: boolean } {
  let current = job;
  const fresh: JobFile['events'] = [];
  let recorded = false;
  for (const index of members) {
    const request = requests[index]!;
    const applied = applyEvent(current, request.event, request.detail, now, request.key);
    outcomes[index] = { applied };
    if (!('recorded' in applied)) continue;
    recorded = true;
    if (applied.duplicate) continue;
    current = applied.job;
    fresh.push(applied.recorded);
  }
  return { job: current, fresh, recorded };
}

function failure(error: unknown): EventOutcome {
  return { error: errorMessage(error), exitCode: error instanceof MamError ? error.exitCode : 1 };
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() === true;
}
