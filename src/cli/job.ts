import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MamError, UsageError } from '../util/errors.js';
import { AGENT_KINDS } from '../agents/index.js';
import { DEFAULT_AGENT, registryPath, tmuxBin } from '../config.js';
import { AuditLog, listLogDirs } from '../jobs/audit.js';
import { isTerminal } from '../jobs/events.js';
import { JOB_EVENTS, JobEventName } from '../jobs/schema.js';
import { recordEvent, waitForJobs, type JobContext } from '../jobs/service.js';
import { prepareDelegatedJob, runDelegatedJob, runValidation } from '../lifecycle/delegate.js';
import { listJobs, readJob } from '../jobs/store.js';
import { jobContext as makeJobContext } from '../jobs/context.js';
import { lifecycleContext, newSessionServer } from '../lifecycle/context.js';
import { which } from '../util/which.js';
import { parseFlags, positiveSeconds, writeLine, type CliContext, type Command } from './command.js';

const HELP = `Usage: mam job <subcommand> [options]

Delegate a task to an agent running interactively in tmux, and follow it through events.

  submit --agent <${AGENT_KINDS.map((kind) => kind.id).join('|')}|human|command> --prompt <text> [--workdir DIR] [--agent-session NAME]
         [--timeout 3600] [--idle-timeout 120] [--validate SCRIPT] [--registry-dir DIR] [--dry-run] [-- agent args]
      register a job, start the agent in a new tmux session with an instruction header naming its fresh job id,
      wait for its completed/error event (or a timeout), run the validation script, and print the audit-log
      directory as the last line. Exit 0 when the job completed (and validation passed).
  event --job ID --event ${JOB_EVENTS.join('|')} [--detail TEXT] [--registry-dir DIR]
      what the agent runs: record the event in the job file, then publish it. Exit 0 recorded and published,
      1 error (unknown job, finished job), 2 recorded but not published (subscribers catch up from the file).
  status --job ID [--json]      list [--json]      wait [--job ID] [--timeout S]
  verify --job ID --validate SCRIPT                logs ID | logs --list

Broker: $MAM_MQTT_URL (with $MAM_MQTT_USERNAME, $MAM_MQTT_PASSWORD, $MAM_MQTT_CA/CERT/KEY), else the embedded broker,
started on demand. Jobs live beside the session registry (--registry, else $MAM_REGISTRY, else the nearest
.hermes/agent-sessions.yaml up from here, else ~/.hermes/agent-sessions.yaml), so every subcommand finds them from
any directory: job files in <registry dir>/jobs/ (mode 600; --registry-dir DIR instead), audit logs in
$DELEGATE_JOB_LOGS_DIR or <registry dir>/delegate_job_logs/<job_id>/. Every subcommand takes --registry and
--registry-dir.`;

export const jobCommand: Command = {
  help: HELP,
  async run(context) {
    const [sub, ...rest] = context.argv;
    const handler = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!handler) throw new UsageError(`job: unknown subcommand ${JSON.stringify(sub ?? '')}; one of ${Object.keys(SUBCOMMANDS).join(', ')}`);
    return handler({ ...context, argv: rest });
  },
};

const SUBCOMMANDS: Record<string, (context: CliContext) => Promise<number>> = { submit, event, status, list, wait, verify, logs };

/** `values`: the subcommand's `--registry` and `--registry-dir`; jobs live beside the registry by default. */
function jobContext(context: CliContext, values: { registry?: string | undefined; 'registry-dir'?: string | undefined }, clientId: string): JobContext {
  return makeJobContext({
    env: context.env,
    cwd: context.cwd,
    registryFile: registryPath(values.registry, context.env, context.cwd),
    registryDir: values['registry-dir'],
    clientId,
    warn: (line) => writeLine(context.stderr, `mam: warning: ${line}`),
  });
}

const WHERE = { registry: { type: 'string' }, 'registry-dir': { type: 'string' } } as const;

async function event(context: CliContext): Promise<number> {
  const { values } = parseFlags('job event', context.argv, { job: { type: 'string' }, event: { type: 'string' }, detail: { type: 'string' }, ...WHERE });
  if (!values.job || !values.event) throw new UsageError('job event: --job ID and --event NAME are required');
  const name = JobEventName.safeParse(values.event);
  if (!name.success) throw new UsageError(`job event: unknown event ${JSON.stringify(values.event)}; one of ${JOB_EVENTS.join(', ')}`);
  const jobs = jobContext(context, values, `mam-event-${process.pid}-${Date.now()}`);
  const { applied, publishError } = await recordEvent(jobs, values.job, name.data, values.detail ?? null);
  try {
    if (!('recorded' in applied)) {
      writeLine(context.stderr, `mam: ${applied.ignored}`);
      return 1;
    }
    if (publishError) {
      writeLine(context.stderr, `mam: event ${applied.recorded.seq} recorded in the job file, but not published: ${publishError}`);
      return 2;
    }
    writeLine(context.stdout, `${values.job}: ${name.data} recorded (#${applied.recorded.seq}), job ${applied.job.status}`);
    return 0;
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
  });
  if (!values.prompt) throw new UsageError('job submit: --prompt is required');
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
  writeLine(context.stdout, `registered job: ${delegated.job.job_id}`);
  if (values['dry-run']) {
    writeLine(context.stdout, `[dry-run] would start ${agent} in tmux with this instruction:\n----\n${delegated.instruction}\n----`);
    writeLine(context.stdout, delegated.job.logs_dir);
    return 0;
  }
  const ok = await runDelegatedJob(
    delegated,
    {
      agent,
      workdir,
      session: values['agent-session']?.replace(/^tmux:/, ''),
      server: newSessionServer(values['tmux-server'], context.env),
      agentArgs: split < 0 ? [] : context.argv.slice(split + 1),
      lifecycle: lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: (line) => writeLine(context.stderr, line) }),
      tmuxBin: tmuxBin(context.env),
    },
    (line) => writeLine(context.stdout, line),
  );
  writeLine(context.stdout, delegated.job.logs_dir);
  return ok ? 0 : 1;
}

async function status(context: CliContext): Promise<number> {
  const { values } = parseFlags('job status', context.argv, { job: { type: 'string' }, json: { type: 'boolean' }, ...WHERE });
  if (!values.job) throw new UsageError('job status: --job ID is required');
  const job = await readJob(jobContext(context, values, '').dir, values.job);
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
  const { values } = parseFlags('job wait', context.argv, { job: { type: 'string' }, timeout: { type: 'string' }, ...WHERE });
  const jobs = jobContext(context, values, values.job ? `mam-wait-${values.job}` : `mam-wait-${process.pid}`);
  const ids = values.job ? [values.job] : (await listJobs(jobs.dir)).filter((job) => !isTerminal(job.status)).map((job) => job.job_id);
  if (values.job) await readJob(jobs.dir, values.job);
  const limitS = values.timeout === undefined ? undefined : positiveSeconds('job wait', 'timeout', values.timeout, 0);
  const result = await waitForJobs(jobs, ids, limitS === undefined ? {} : { limitMs: limitS * 1000 });
  for (const job of result.jobs) writeLine(context.stdout, `${job.job_id}  ${job.status}${job.reason ? ` (${job.reason})` : ''}`);
  if (!result.finished) {
    writeLine(context.stderr, `mam: still running after ${limitS} s`);
    return 3;
  }
  return result.jobs.every((job) => job.status === 'completed') ? 0 : 1;
}

async function verify(context: CliContext): Promise<number> {
  const { values } = parseFlags('job verify', context.argv, { job: { type: 'string' }, validate: { type: 'string' }, ...WHERE });
  if (!values.job || !values.validate) throw new UsageError('job verify: --job ID and --validate SCRIPT are required');
  const jobs = jobContext(context, values, '');
  const job = await readJob(jobs.dir, values.job);
  writeLine(context.stdout, `verifying job ${job.job_id} with ${values.validate}`);
  return (await runValidation(path.resolve(context.cwd, values.validate), job, jobs.dir, new AuditLog(job.logs_dir), context.env, (line) => writeLine(context.stdout, line))) ? 0 : 1;
}

async function logs(context: CliContext): Promise<number> {
  const [first] = context.argv;
  if (first === '--list') {
    const { values } = parseFlags('job logs', context.argv.slice(1), WHERE);
    const root = jobContext(context, values, '').logsRoot;
    for (const name of await listLogDirs(root)) writeLine(context.stdout, path.join(root, name));
    return 0;
  }
  if (!first) throw new UsageError('job logs: give a job id, or --list');
  const { values } = parseFlags('job logs', context.argv.slice(1), WHERE);
  const job = await readJob(jobContext(context, values, '').dir, first);
  writeLine(context.stdout, job.logs_dir);
  for (const name of ['instruction.txt', 'events.jsonl', 'validation.txt', 'pane-final.txt']) {
    const text = await readFile(path.join(job.logs_dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) writeLine(context.stdout, `--- ${name}\n${text.trimEnd()}`);
  }
  return 0;
}
