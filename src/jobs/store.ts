import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, MamError } from '../util/errors.js';
import { writeFileAtomic } from '../registry/atomic.js';
import { withLock, type LockOptions } from '../registry/lock.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { JOB_ID_PATTERN, JobFile } from './schema.js';

/**
 * The job registry: one JSON file per job in a directory (`./.mam/jobs` by default, `--registry-dir`),
 * the directory mode 700 when mam creates it and each file 600 — a job's prompt and events are nobody else's business.
 * Every change is read-modify-write under the directory's lock, written atomically.
 */
export const DEFAULT_JOBS_DIR = path.join('.mam', 'jobs');

export function newJobId(): string {
  return `j_${randomBytes(12).toString('hex')}`;
}

/** The file of job `id`; an id that is not one of ours never becomes a path (no `../`, no other names). */
export function jobPath(dir: string, id: string): string {
  if (!JOB_ID_PATTERN.test(id)) throw new MamError(`${JSON.stringify(id)} is not a job id (they look like j_ and 24 hex digits)`, { exitCode: 64 });
  return path.join(dir, `${id}.json`);
}

/**
 * Makes the jobs directory 700 only when it is ours: one mam creates now. `--registry-dir` may name a directory
 * that already exists — `~`, a shared project folder — and tightening that would lock its other users out; there
 * each job file's own 600 keeps the jobs private.
 */
export async function ensureJobsDir(dir: string): Promise<void> {
  // recursive mkdir answers the first directory it created, or undefined when `dir` was already there.
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // The chmod undoes a umask that took owner bits from the mode above (e.g. umask 0277).
  if (created !== undefined) await chmod(dir, 0o700);
}

export async function writeNewJob(dir: string, job: JobFile, lock: LockOptions = {}): Promise<void> {
  await ensureJobsDir(dir);
  await withLock(path.join(dir, '.lock'), () => writeJob(dir, job), lock);
}

export async function readJob(dir: string, id: string): Promise<JobFile> {
  const file = jobPath(dir, id);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MamError(`no job ${id} in ${dir} (is it another registry's? pass --registry-dir)`);
    throw new MamError(`${file}: cannot be read: ${errorMessage(error)}`);
  }
  const parsed = JobFile.safeParse(parseJsonOrUndefined(text));
  if (!parsed.success || parsed.data.job_id !== id) throw new MamError(`${file}: not a valid job file; leaving it as it is`);
  return parsed.data;
}

/** Read-modify-write of one job under the directory lock. `change` returns undefined for "no change". */
export async function updateJob<T>(dir: string, id: string, change: (job: JobFile) => { job: JobFile; result: T } | { job: undefined; result: T }, lock: LockOptions = {}): Promise<T> {
  // Unknown here (another registry, a typo): say so, rather than fail on a lock in a directory that is not one.
  await readJob(dir, id);
  return withLock(
    path.join(dir, '.lock'),
    async () => {
      const current = await readJob(dir, id);
      const { job, result } = change(current);
      if (job) await writeJob(dir, job);
      return result;
    },
    lock,
  );
}

export async function listJobs(dir: string): Promise<JobFile[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const jobs: JobFile[] = [];
  for (const name of names.sort()) {
    const id = name.replace(/\.json$/, '');
    if (!name.endsWith('.json') || !JOB_ID_PATTERN.test(id)) continue;
    try {
      jobs.push(await readJob(dir, id));
    } catch {
      // An unreadable job file is skipped here; `mam job status --job ID` names what is wrong with it.
    }
  }
  return jobs.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/**
 * Writes one job file atomically (fsynced); the caller holds the directory lock. Answers the directory the file was
 * renamed in: with `deferDirectorySync` the caller must fsync it (registry/atomic.ts syncDirectory) before it lets go.
 */
export async function writeJob(dir: string, job: JobFile, options: { readonly deferDirectorySync?: boolean } = {}): Promise<string> {
  const file = jobPath(dir, job.job_id);
  return writeFileAtomic(file, `${JSON.stringify(job, null, 2)}\n`, 0o600, options);
}
