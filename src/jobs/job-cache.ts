import { stat } from 'node:fs/promises';
import { jobPath, readJob, writeJob } from './store.js';
import type { JobFile } from './schema.js';

/**
 * Job files as the job daemon last read or wrote them, so a batch does not read and check a whole file again — with
 * hundreds of events, that parse was the daemon's largest cost after the lock. An entry is used only while the file
 * is the very one it was taken from: same inode, size, mtime and ctime to the nanosecond. Any other writer (`mam`
 * directly, or a script under the documented lock) replaces the file by rename, which changes all of those, so its
 * change is always read. Callers hold the jobs directory's lock, as for readJob and writeJob themselves.
 */
export class JobFileCache {
  private readonly entries = new Map<string, { readonly identity: string; readonly job: JobFile }>();

  constructor(private readonly limit = 1_000) {}

  async read(dir: string, id: string): Promise<JobFile> {
    const file = jobPath(dir, id);
    const before = await identity(file);
    const cached = this.entries.get(file);
    if (cached && before !== undefined && cached.identity === before) return cached.job;
    const job = await readJob(dir, id);
    this.remember(file, before, job);
    return job;
  }

  /** writeJob, remembering what was written; answers the directory to fsync. */
  async write(dir: string, job: JobFile): Promise<string> {
    const directory = await writeJob(dir, job, { deferDirectorySync: true });
    const file = jobPath(dir, job.job_id);
    this.remember(file, await identity(file), job);
    return directory;
  }

  private remember(file: string, identity: string | undefined, job: JobFile): void {
    this.entries.delete(file);
    if (identity === undefined) return;
    this.entries.set(file, { identity, job });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }
}

async function identity(file: string): Promise<string | undefined> {
  const stats = await stat(file, { bigint: true }).catch(() => undefined);
  return stats && `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}
