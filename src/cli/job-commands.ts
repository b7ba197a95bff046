import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MamError, UsageError } from '../util/errors.js';
import { DEFAULT_AGENT, registryPath, tmuxBin } from '../config.js';
import { AuditLog, listLogDirs } from '../jobs/audit.js';
import type { EventReport } from '../jobs/daemon-client.js';
import { isTerminal } from '../jobs/events.js';
import type { JobEventName } from '../jobs/names.js';
import type { JobStatus } from '../jobs/schema.js';
import { recordEvent, waitForJobs, type JobContext } from '../jobs/service.js';
import { prepareDelegatedJob, runDelegatedJob, runValidation } from '../lifecycle/delegate.js';
import { listJobs, readJob } from '../jobs/store.js';
import { jobContext as makeJobContext } from '../jobs/context.js';
import { lifecycleContext, newSessionServer } from '../lifecycle/context.js';
import { which } from '../util/which.js';
import { JOB, JOB_WHERE as WHERE, liveProgress, parseFlags, positiveSeconds, subjectArg, writeLine, type CliContext } from './command.js';

/** The subcommand's `--registry` and `--registry-dir`. */
type Where = { registry?: string | undefined; 'registry-dir'?: string | undefined };

/**
 * `mam job`'s subcommands other than `event` and `daemon`, which cli/job.ts runs itself: those an agent runs for
 * every event load none of what these need (lifecycle, tmux, zod, MQTT; bench/oneshot.bench.ts).
 */
export const SUBCOMMANDS: Record<string, (context: CliContext) => Promise<number>> = { submit, status, list, wait, verify, logs };

/** `values`: the subcommand's `--registry` and `--registry-dir`; jobs live beside the registry by default. */
function jobContext(context: CliContext, values: Where, clientId: string): JobContext {
  return makeJobContext({
    env: context.env,
    cwd: context.cwd,
    registryFile: registryPath(values.registry, context.env, context.cwd),
    registryDir: values['registry-dir'],
    clientId,
    warn: (line) => writeLine(context.stderr, `mam: warning: ${line}`),
  });
}

/** `job event` recording its event itself, when no job daemon took it (src/jobs/daemon-client.ts). */
export async function recordDirect(context: CliContext, values: Where, id: string, event: JobEventName, detail: string | null, key: string): Promise<EventReport> {
  const jobs = jobContext(context, values, `mam-event-${process.pid}-${Date.now()}`);
  try {
    const { applied, publishError } = await recordEvent(jobs, id, event, detail, key);
    if (!('recorded' in applied)) return { ignored: applied.ignored };
    return { recorded: applied.recorded, status: applied.job.status, duplicate: applied.duplicate === true, published: publishError === undefined, publish_error: publishError ?? null };
  } finally {
    await (await jobs.transport())?.close().catch(() => undefined);
  }
}

async function submit(context: CliContext): Promise<number> {
  const split = context.argv.indexOf('--');
  const { values } = parseFlags('job submit', split < 0 ? context.argv : context.argv.slice(0, split), {
    agent: { type: 'string' },
    prompt: { type: 'string' },
    workdir: { type: 'string' },
    'agent-session': { type: 'string' },
    timeout: { type: 'string' },
    'idle-timeout': { type: 'string' },
    validate: { type: 'string' },
    'registry-dir': { type: 'string' },
    'tmux-server': { type: 'string' },
    'dry-run': { type: 'boolean' },
    registry: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (!values.prompt) throw new UsageError('job submit: --prompt is required; see `mam job submit --help`');
  const agent = values.agent ?? DEFAULT_AGENT;
  const workdir = path.resolve(context.cwd, values.workdir ?? '.');
  if (!which('tmux', context.env) && agent !== 'human') throw new MamError('tmux is required for delegated jobs (agents run interactively in tmux): apt-get install tmux');
  const delegated = await prepareDelegatedJob(jobContext(context, values, ''), {
    agent,
    prompt: values.prompt,
    workdir,
    timeoutS: positiveSeconds('job submit', 'timeout', values.timeout, 3600),
    idleTimeoutS: positiveSeconds('job submit', 'idle-timeout', values['idle-timeout'], 120),
    validate: values.validate ? path.resolve(context.cwd, values.validate) : null,
  });
  const { job } = delegated;
  if (values['dry-run']) {
    if (values.json) {
      writeLine(context.stdout, JSON.stringify({ job_id: job.job_id, dry_run: true, instruction: delegated.instruction, logs_dir: job.logs_dir }));
      return 0;
    }
    writeLine(context.stdout, `registered job: ${job.job_id}`);
    writeLine(context.stdout, `[dry-run] would start ${agent} in tmux with this instruction:\n----\n${delegated.instruction}\n----`);
    writeLine(context.stdout, job.logs_dir);
    return 0;
  }
  const live = liveProgress(context);
  // With --json, stdout is the one object at the end: the lines for people go to stderr.
  const line = values.json ? live.say : live.print;
  let ok: boolean;
  try {
    line(`registered job: ${job.job_id}`);
    ok = await runDelegatedJob(
      delegated,
      {
        agent,
        workdir,
        session: values['agent-session']?.replace(/^tmux:/, ''),
        server: newSessionServer(values['tmux-server'], context.env),
        agentArgs: split < 0 ? [] : context.argv.slice(split + 1),
        lifecycle: lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: live.say, progress: live.progress }),
        tmuxBin: tmuxBin(context.env),
      },
      line,
    );
  } finally {
    live.done();
  }
  if (values.json) {
    const final = await readJob(delegated.jobs.dir, job.job_id);
    writeLine(context.stdout, JSON.stringify({ job_id: final.job_id, status: final.status, reason: final.reason, ok, validated: final.validate !== null, logs_dir: final.logs_dir, agent_session: final.agent_session }));
  } else writeLine(context.stdout, job.logs_dir);
  return ok ? 0 : 1;
}

async function status(context: CliContext): Promise<number> {
  const { values, positionals } = parseFlags('job status', context.argv, { job: { type: 'string' }, json: { type: 'boolean' }, ...WHERE }, { positionals: true });
  const job = await readJob(jobContext(context, values, '').dir, subjectArg('job status', JOB, values.job, positionals));
  if (values.json) writeLine(context.stdout, JSON.stringify(job));
  else {
    writeLine(context.stdout, `${job.job_id}  ${job.status}${job.reason ? ` (${job.reason})` : ''}  agent ${job.agent}${job.agent_session ? ` in ${job.agent_session}` : ''}`);
    for (const item of job.events) writeLine(context.stdout, `  #${item.seq} ${item.at} ${item.event}${item.detail ? ` — ${item.detail}` : ''}`);
  }
  return 0;
}

async function list(context: CliContext): Promise<number> {
  const { values } = parseFlags('job list', context.argv, { json: { type: 'boolean' }, ...WHERE });
  const { dir } = jobContext(context, values, '');
  const jobs = await listJobs(dir);
  if (values.json) writeLine(context.stdout, JSON.stringify(jobs));
  else if (jobs.length === 0) writeLine(context.stdout, `no jobs in ${dir}`);
  else {
    writeLine(context.stdout, `jobs in ${dir}:`);
    for (const job of jobs) writeLine(context.stdout, `${job.job_id}  ${job.status.padEnd(9)}  ${job.agent.padEnd(8)}  ${job.created_at}  ${job.prompt.replace(/\s+/g, ' ').slice(0, 60)}`);
  }
  return 0;
}

async function wait(context: CliContext): Promise<number> {
  const { values, positionals } = parseFlags('job wait', context.argv, { job: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' }, ...WHERE }, { positionals: true });
  // One job named, or none: then every job not yet finished.
  const named = positionals.length > 0 || values.job !== undefined ? subjectArg('job wait', JOB, values.job, positionals) : undefined;
  const limitS = values.timeout === undefined ? undefined : positiveSeconds('job wait', 'timeout', values.timeout, 0);
  const jobs = jobContext(context, values, named ? `mam-wait-${named}` : `mam-wait-${process.pid}`);
  const ids = named ? [named] : (await listJobs(jobs.dir)).filter((job) => !isTerminal(job.status)).map((job) => job.job_id);
  if (named) await readJob(jobs.dir, named);
  const live = liveProgress(context);
  const statuses = new Map<string, JobStatus>();
  const result = await waitForJobs(jobs, ids, {
    ...(limitS === undefined ? {} : { limitMs: limitS * 1000 }),
    onEvents: (job) => {
      statuses.set(job.job_id, job.status);
      live.progress(waitStage(statuses, limitS));
    },
  }).finally(() => live.done());
  if (values.json) writeLine(context.stdout, JSON.stringify({ finished: result.finished, jobs: result.jobs }));
  else for (const job of result.jobs) writeLine(context.stdout, `${job.job_id}  ${job.status}${job.reason ? ` (${job.reason})` : ''}`);
  if (!result.finished) {
    writeLine(context.stderr, `mam: still running after ${limitS} s`);
    return 3;
  }
  return result.jobs.every((job) => job.status === 'completed') ? 0 : 1;
}

async function verify(context: CliContext): Promise<number> {
  const { values, positionals } = parseFlags('job verify', context.argv, { job: { type: 'string' }, validate: { type: 'string' }, json: { type: 'boolean' }, ...WHERE }, { positionals: true });
  const id = subjectArg('job verify', JOB, values.job, positionals);
  if (!values.validate) throw new UsageError('job verify: --validate SCRIPT is required; see `mam job verify --help`');
  const jobs = jobContext(context, values, '');
  const job = await readJob(jobs.dir, id);
  const say = (line: string): void => writeLine(values.json ? context.stderr : context.stdout, line);
  say(`verifying job ${job.job_id} with ${values.validate}`);
  const passed = await runValidation(path.resolve(context.cwd, values.validate), job, jobs.dir, new AuditLog(job.logs_dir), context.env, say);
  if (values.json) writeLine(context.stdout, JSON.stringify({ job_id: job.job_id, passed }));
  return passed ? 0 : 1;
}

async function logs(context: CliContext): Promise<number> {
  const { values, positionals } = parseFlags('job logs', context.argv, { list: { type: 'boolean' }, json: { type: 'boolean' }, job: { type: 'string' }, ...WHERE }, { positionals: true });
  if (values.list) {
    if (positionals.length > 0 || values.job !== undefined) throw new UsageError('job logs: give a job id or --list, not both');
    const root = jobContext(context, values, '').logsRoot;
    const dirs = (await listLogDirs(root)).map((name) => path.join(root, name));
    if (values.json) writeLine(context.stdout, JSON.stringify(dirs));
    else for (const dir of dirs) writeLine(context.stdout, dir);
    return 0;
  }
  if (positionals.length === 0 && values.job === undefined) throw new UsageError('job logs: give a job id, or --list; see `mam job logs --help`');
  const job = await readJob(jobContext(context, values, '').dir, subjectArg('job logs', JOB, values.job, positionals));
  const files: Record<string, string> = {};
  for (const name of ['instruction.txt', 'events.jsonl', 'validation.txt', 'pane-final.txt']) {
    const text = await readFile(path.join(job.logs_dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) files[name] = text;
  }
  if (values.json) {
    writeLine(context.stdout, JSON.stringify({ job_id: job.job_id, logs_dir: job.logs_dir, files }));
    return 0;
  }
  writeLine(context.stdout, job.logs_dir);
  for (const [name, text] of Object.entries(files)) writeLine(context.stdout, `--- ${name}\n${text.trimEnd()}`);
  return 0;
}

/** The live line of `job wait`: one job's status, or how many are in each. */
function waitStage(statuses: ReadonlyMap<string, JobStatus>, limitS: number | undefined): string {
  const open = [...statuses].filter(([, status]) => !isTerminal(status));
  const limit = limitS === undefined ? '' : ` (gives up after ${limitS} s)`;
  if (open.length === 1) return `waiting for job ${open[0]![0]}: ${open[0]![1]}${limit}`;
  const counts = new Map<string, number>();
  for (const [, status] of open) counts.set(status, (counts.get(status) ?? 0) + 1);
  return `waiting for ${open.length} jobs: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}${limit}`;
}
