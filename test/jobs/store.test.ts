import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyEvent, nextDeadline, timedOut } from '../../src/jobs/events.js';
import { JOB_ID_PATTERN, type JobFile } from '../../src/jobs/schema.js';
import { createJob, recordEvent, waitForJobs, type JobContext } from '../../src/jobs/service.js';
import { jobPath, listJobs, newJobId, readJob } from '../../src/jobs/store.js';

let root: string;
let now: number;
const T0 = Date.parse('2026-11-22T10:00:00Z');
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mam-jobs-'));
  now = T0;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** No broker: the job file is the whole story (which is exactly what must work when the broker is down). */
/** The lock bound only catches a hang: 40 writers queue on one flock, and on a loaded machine each turn is slow. */
function context(): JobContext {
  return { dir: path.join(root, '.mam', 'jobs'), logsRoot: path.join(root, 'logs'), env: {}, now: () => now, lock: { timeoutMs: 300_000 }, transport: async () => undefined };
}

const spec = { agent: 'claude', prompt: 'fix the flaky test', workdir: '/w', agentSession: null, timeoutS: 3600, idleTimeoutS: 120, validate: null };

describe('job files', () => {
  it('mints fresh, unguessable ids and refuses anything else as a path', () => {
    const ids = new Set(Array.from({ length: 1000 }, newJobId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(JOB_ID_PATTERN);
    for (const bad of ['../etc/passwd', 'j_../../x', 'j_0123', `j_${'a'.repeat(24)}/..`, 'J_' + 'a'.repeat(24), '']) {
      expect(() => jobPath('/jobs', bad), bad).toThrow(/is not a job id/);
    }
  });

  it('keeps the directory 700 and each file 600, and says when a job belongs to another registry', async () => {
    const jobs = context();
    const job = await createJob(jobs, spec);
    expect((await stat(jobs.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(jobPath(jobs.dir, job.job_id))).mode & 0o777).toBe(0o600);
    await recordEvent(jobs, job.job_id, 'started', null);
    expect((await stat(jobPath(jobs.dir, job.job_id))).mode & 0o777).toBe(0o600);
    await expect(readJob(path.join(root, 'elsewhere'), job.job_id)).rejects.toThrow(/no job j_[0-9a-f]{24} in .*another registry/);
  });

  it('leaves the mode of a directory it did not create (--registry-dir ~ or a shared folder) as it was', async () => {
    const shared = path.join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o755);
    const jobs = { ...context(), dir: shared };
    const job = await createJob(jobs, spec);
    await recordEvent(jobs, job.job_id, 'started', null);
    expect((await stat(shared)).mode & 0o777).toBe(0o755);
    // The job itself is still nobody else's business.
    expect((await stat(jobPath(shared, job.job_id))).mode & 0o777).toBe(0o600);
  });

  it('moves pending → running → completed, numbering events, and ignores events after the end', async () => {
    const jobs = context();
    const job = await createJob(jobs, spec);
    expect(job.status).toBe('pending');
    now += 1000;
    expect((await recordEvent(jobs, job.job_id, 'started', null)).applied.job.status).toBe('running');
    await recordEvent(jobs, job.job_id, 'permission_required', 'Bash: npm test');
    await recordEvent(jobs, job.job_id, 'progress', 'half way');
    const done = await recordEvent(jobs, job.job_id, 'completed', 'all green');
    expect(done.applied.job).toMatchObject({ status: 'completed', reason: null });
    const late = await recordEvent(jobs, job.job_id, 'error', 'too late');
    expect(late.applied).toMatchObject({ ignored: expect.stringMatching(/already completed; error ignored/) });
    const stored = await readJob(jobs.dir, job.job_id);
    expect(stored.events.map((event) => [event.seq, event.event])).toEqual([[1, 'submitted'], [2, 'started'], [3, 'permission_required'], [4, 'progress'], [5, 'completed']]);
    // Every event is also in the audit log.
    const audit = path.join(root, 'logs', job.job_id);
    expect(await readdir(audit)).toContain('events.jsonl');
  });

  it('judges timeouts from the file, so they hold across a restart of whoever waits', () => {
    const base: JobFile = { job_id: newJobId(), agent: 'claude', prompt: 'p', workdir: '/w', agent_session: null, validate: null, timeout_s: 3600, idle_timeout_s: 120, status: 'running', created_at: new Date(T0).toISOString(), updated_at: '', last_event_at: new Date(T0).toISOString(), reason: null, logs_dir: '/l', events: [{ seq: 1, event: 'submitted', at: '', detail: null }] };
    expect(timedOut(base, T0 + 119_000)).toBeUndefined();
    expect(timedOut(base, T0 + 120_000)).toMatchObject({ status: 'timeout', reason: expect.stringMatching(/^idle timeout: no event for 120 s/) });
    const active = applyEvent(base, 'progress', null, T0 + 3_500_000).job;
    expect(timedOut(active, T0 + 3_600_000)).toMatchObject({ status: 'timeout', reason: 'overall timeout: not finished within 3600 s of submission' });
    expect(nextDeadline(base)).toBe(T0 + 120_000);
  });

  it('a waiter marks an idle job timed out at its deadline, with nothing but the file', async () => {
    const jobs = { ...context(), now: Date.now };
    // Before createJob: the idle deadline counts from the job's creation, and a loaded machine can take 100+ ms to create it.
    const started = Date.now();
    const job = await createJob(jobs, { ...spec, idleTimeoutS: 0.3 });
    const { jobs: [final], finished } = await waitForJobs(jobs, [job.job_id], { pollMs: 50 });
    expect(finished).toBe(true);
    expect(final).toMatchObject({ status: 'timeout', reason: expect.stringMatching(/^idle timeout/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect((await readJob(jobs.dir, job.job_id)).events.at(-1)).toMatchObject({ event: 'timeout' });
  });

  it('loses no event when many writers report at once', async () => {
    const jobs = context();
    const job = await createJob(jobs, spec);
    await Promise.all(Array.from({ length: 40 }, (_, index) => recordEvent(jobs, job.job_id, 'progress', `step ${index}`)));
    const stored = await readJob(jobs.dir, job.job_id);
    expect(stored.events).toHaveLength(41);
    expect(stored.events.map((event) => event.seq)).toEqual(Array.from({ length: 41 }, (_, index) => index + 1));
    expect(await listJobs(jobs.dir)).toHaveLength(1);
  });
});
