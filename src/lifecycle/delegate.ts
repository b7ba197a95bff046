import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachHint, type LifecycleContext } from './context.js';
import { createSession } from './create.js';
import { capturePane } from '../tmux/session.js';
import { joinWords } from '../util/shell-words.js';
import { mamCommand } from '../util/which.js';
import { AuditLog } from '../jobs/audit.js';
import type { JobFile } from '../jobs/schema.js';
import { createJob, recordEvent, waitForJobs, type JobContext } from '../jobs/service.js';
import { updateJob } from '../jobs/store.js';

/**
 * Delegating a task to an agent in tmux (`mam job submit`, `mam create --submit-job`): register the job, write the
 * instruction the agent is sent (the task under a header naming its job id and how to report events), start the
 * agent with it, follow its events to the end, keep its last screen and run the validation script.
 */
export interface DelegatedJob {
  readonly jobs: JobContext;
  readonly job: JobFile;
  /** What the agent is sent: header + task, as written to the audit log. */
  readonly instruction: string;
}

export interface DelegatedJobSpec {
  readonly agent: string;
  readonly prompt: string;
  readonly workdir: string;
  readonly timeoutS?: number;
  readonly idleTimeoutS?: number;
  readonly validate?: string | null;
}

/** Registers a job and writes its instruction (header + task) to the audit log: what the agent will be sent. */
export async function prepareDelegatedJob(jobs: JobContext, spec: DelegatedJobSpec): Promise<DelegatedJob> {
  const job = await createJob(jobs, {
    agent: spec.agent,
    prompt: spec.prompt,
    workdir: spec.workdir,
    agentSession: null,
    timeoutS: spec.timeoutS ?? 3600,
    idleTimeoutS: spec.idleTimeoutS ?? 120,
    validate: spec.validate ?? null,
  });
  const instruction = await instructionFor(job, jobs.dir, jobs.env);
  await new AuditLog(job.logs_dir).instruction(instruction);
  return { jobs, job, instruction };
}

/** Records which tmux session runs the job. */
export async function attachSession(jobs: JobContext, jobId: string, session: string): Promise<void> {
  await updateJob(jobs.dir, jobId, (current) => ({ job: { ...current, agent_session: session }, result: undefined }), jobs.lock);
}

export interface RunDelegatedJob {
  readonly agent: string;
  readonly workdir: string;
  /** The tmux session to start it in; default `<workdir name>-job-<id>`. */
  readonly session: string | undefined;
  readonly server: string;
  readonly agentArgs: readonly string[];
  readonly lifecycle: LifecycleContext;
  readonly tmuxBin: string;
}

/**
 * Starts the agent with the instruction (or, for `human`, says how to report) and follows the job to its end;
 * every line for the person goes to `say`. True when the job completed and its validation (if any) passed.
 */
export async function runDelegatedJob(delegated: DelegatedJob, run: RunDelegatedJob, say: (line: string) => void): Promise<boolean> {
  const { jobs, job, instruction } = delegated;
  const audit = new AuditLog(job.logs_dir);
  let session: { name: string; server: string } | undefined;
  if (run.agent === 'human') {
    say(`[human] do the task, then report: ${eventCommand(jobs.dir, job.job_id, jobs.env)} --event completed`);
  } else {
    const name = run.session ?? `${path.basename(run.workdir).replace(/[^A-Za-z0-9_-]/g, '-')}-job-${job.job_id.slice(2, 10)}`;
    const created = await createSession(run.lifecycle, {
      agent: run.agent,
      workspace: run.workdir,
      name,
      server: run.server,
      agentArgs: [...run.agentArgs],
      submitJob: instruction,
      delegateJobId: job.job_id,
      delegateJobRegistry: jobs.dir,
    });
    session = { name: created.entry.name, server: run.server };
    await attachSession(jobs, job.job_id, created.entry.name);
    say(`agent started in tmux session ${name} (${attachHint(name)})`);
    if (created.submitted && !created.submitted.ok) {
      await recordEvent(jobs, job.job_id, 'error', `instruction not delivered: ${created.submitted.detail}`);
    }
  }

  const waiting = (status: string): void =>
    run.lifecycle.progress(`job ${job.job_id} ${status}: waiting for its completed or error event (timeout ${job.timeout_s} s, idle ${job.idle_timeout_s} s)`);
  waiting(job.status);
  const {
    jobs: [final],
  } = await waitForJobs(jobs, [job.job_id], {
    onEvents: (current, fresh) => {
      for (const item of fresh) if (item.event !== 'submitted') say(`event: ${item.event}${item.detail ? ` — ${item.detail}` : ''}`);
      waiting(current.status);
    },
  }).finally(() => run.lifecycle.progress(undefined));
  if (session) {
    const screen = await capturePane(session.server, session.name, 200, { bin: run.tmuxBin });
    if (screen !== undefined) await audit.paneFinal(screen);
  }
  say(`job ${final!.job_id}: ${final!.status}${final!.reason ? ` (${final!.reason})` : ''}`);
  let ok = final!.status === 'completed';
  if (job.validate) ok = (await runValidation(job.validate, final!, jobs.dir, audit, jobs.env, say)) && ok;
  return ok;
}

/** Runs `bash SCRIPT` with JOB_ID and REGISTRY_DIR; its output goes to the audit log. */
export async function runValidation(script: string, job: JobFile, dir: string, audit: AuditLog, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<boolean> {
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile('bash', [script], { cwd: job.workdir, env: { ...env, JOB_ID: job.job_id, REGISTRY_DIR: dir }, timeout: 600_000 }, (error, stdout, stderr) => {
      const exit = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve({ code: exit, output: `${stdout}${stderr}` });
    });
  });
  await audit.validation(script, code, output);
  say(code === 0 ? 'validation: PASS' : `validation: FAIL (exit ${code})`);
  return code === 0;
}

/** How the agent calls back: `mam` when it is on PATH, else this very CLI by absolute path. */
export function eventCommand(dir: string, jobId: string, env: NodeJS.ProcessEnv): string {
  return `${mamCommand(env, fileURLToPath(new URL('../cli/main.js', import.meta.url)))} job event --job ${jobId} --registry-dir ${joinWords([dir])}`;
}

async function instructionFor(job: JobFile, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const template = await readFile(fileURLToPath(new URL('../../prompts/job-instruction.md', import.meta.url)), 'utf8');
  return template.replaceAll('{{job_id}}', job.job_id).replaceAll('{{event}}', eventCommand(dir, job.job_id, env)).replaceAll('{{prompt}}', job.prompt).trimEnd();
}
