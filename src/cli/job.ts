import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MamError, UsageError } from '../util/errors.js';
import { AGENT_KINDS } from '../agents/index.js';
import { DEFAULT_AGENT, registryPath, tmuxBin } from '../config.js';
import { AuditLog, listLogDirs } from '../jobs/audit.js';
import { isTerminal } from '../jobs/events.js';
import { JOB_EVENTS, JobEventName, type JobStatus } from '../jobs/schema.js';
import { recordEvent, waitForJobs, type JobContext } from '../jobs/service.js';
import { prepareDelegatedJob, runDelegatedJob, runValidation } from '../lifecycle/delegate.js';
import { listJobs, readJob } from '../jobs/store.js';
import { jobContext as makeJobContext } from '../jobs/context.js';
import { lifecycleContext, newSessionServer } from '../lifecycle/context.js';
import { which } from '../util/which.js';
import { liveProgress, parseFlags, positiveSeconds, subjectArg, withArgv, writeLine, type CliContext, type Command } from './command.js';

const AGENTS = `${AGENT_KINDS.map((kind) => kind.id).join('|')}|human|command`;

/** Each subcommand's own page (`mam job <sub> --help`). */
const SUB_HELP: Readonly<Record<string, string>> = {
  submit: `Usage: mam job submit --prompt TEXT [--agent ${AGENTS}] [--workdir DIR]
                      [--agent-session NAME] [--timeout 3600] [--idle-timeout 120] [--validate SCRIPT] [--tmux-server S]
                      [--dry-run] [--json] [--registry PATH] [--registry-dir DIR] [-- agent args…]

Register a job, start the agent (default ${DEFAULT_AGENT}) in a new tmux session with an instruction header naming
its fresh job id, wait for its completed or error event (or --timeout seconds in all, --idle-timeout seconds without
an event), run the validation script (bash SCRIPT, with JOB_ID and REGISTRY_DIR), and print the audit-log directory
as the last line. --agent human prints the command to report with instead of starting anything. --dry-run registers
the job and prints the instruction without starting an agent.
--json: the progress lines go to stderr and stdout gets one object {job_id, status, reason, ok, validated,
logs_dir, agent_session} ({job_id, dry_run: true, instruction, logs_dir} with --dry-run).
Exit 0 when the job completed (and validation passed), 1 otherwise.`,
  event: `Usage: mam job event ID --event ${JOB_EVENTS.join('|')} [--detail TEXT] [--json]
                     [--registry PATH] [--registry-dir DIR]      (or --job ID)

What the agent runs: record the event in the job file, then publish it. --json prints
{job_id, event, seq, status, published, publish_error}.
Exit 0 recorded and published; 1 not recorded (unknown or finished job); 2 recorded but not published (subscribers
catch up from the file); 64 usage error.`,
  status: `Usage: mam job status ID [--json] [--registry PATH] [--registry-dir DIR]      (or --job ID)

The job's status, reason, agent and session, then every event. --json prints the job file.`,
  list: `Usage: mam job list [--json] [--registry PATH] [--registry-dir DIR]

Every job in the jobs directory, oldest first: id, status, agent, created, the start of the prompt. --json prints
the job files as one array.`,
  wait: `Usage: mam job wait [ID] [--timeout S] [--json] [--registry PATH] [--registry-dir DIR]      (or --job ID)

Wait until the job (default: every job not yet finished) is completed, error or timeout, and print each as
"ID STATUS (reason)". On a terminal a live line shows what is still running and for how long. --json prints
{finished, jobs: [job files]}.
Exit 0 every job completed; 1 some ended in error or timeout; 3 still running after --timeout.`,
  verify: `Usage: mam job verify ID --validate SCRIPT [--json] [--registry PATH] [--registry-dir DIR]      (or --job ID)

Run the validation script (bash SCRIPT, with JOB_ID and REGISTRY_DIR) for a job again; its output goes to the audit
log. --json: the lines go to stderr and stdout gets {job_id, passed}. Exit 0 when it passes, 1 when it fails.`,
  logs: `Usage: mam job logs ID [--json] [--registry PATH] [--registry-dir DIR]
       mam job logs --list [--json] [--registry PATH] [--registry-dir DIR]

The job's audit-log directory and its files (instruction.txt, events.jsonl, validation.txt, pane-final.txt), or with
--list every audit-log directory. --json prints {job_id, logs_dir, files: {name: text}}, or with --list an array
of directories.`,
};

const HELP = `Usage: mam job <subcommand> [options]      (mam job <subcommand> --help: that subcommand's page)

Delegate a task to an agent running interactively in tmux, and follow it through events.

  submit --prompt TEXT [--agent A] …
                                  start an agent on a fresh job and follow it to its end
  event ID --event ${JOB_EVENTS.join('|')} [--detail TEXT]
                                  what the agent runs: record the event, then publish it (exit 2: not published)
  status ID [--json]              the job and its events
  list [--json]                   every job
  wait [ID] [--timeout S]         until the job (default: every open one) ends (exit 3: still running)
  verify ID --validate SCRIPT     run the validation again
  logs ID | logs --list           the audit log

A job is named by its id, as a word or with --job ID. --json on every subcommand that prints data.

Broker: $MAM_MQTT_URL (with $MAM_MQTT_USERNAME, $MAM_MQTT_PASSWORD, $MAM_MQTT_CA/CERT/KEY), else the embedded broker,
started on demand. Jobs live beside the session registry (--registry, else $MAM_REGISTRY, else the nearest
.hermes/agent-sessions.yaml up from here, else ~/.hermes/agent-sessions.yaml), so every subcommand finds them from
any directory: job files in <registry dir>/jobs/ (mode 600; --registry-dir DIR instead), audit logs in
$DELEGATE_JOB_LOGS_DIR or <registry dir>/delegate_job_logs/<job_id>/. Every subcommand takes --registry and
--registry-dir.`;

export const jobCommand: Command = {
  help: HELP,
  subcommands: SUB_HELP,
  async run(context) {
    const [sub, ...rest] = context.argv;
    const handler = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!handler) throw new UsageError(`job: ${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`}; one of ${Object.keys(SUBCOMMANDS).join(', ')}; see \`mam job --help\``);
    return handler(withArgv(context, rest));
  },
};

const SUBCOMMANDS: Record<string, (context: CliContext) => Promise<number>> = { submit, event, status, list, wait, verify, logs };

/** A job, named as a word (`mam job status ID`) or with --job ID. */
const JOB = { flag: 'job', label: 'ID' } as const;

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
  const { values, positionals } = parseFlags('job event', context.argv, { job: { type: 'string' }, event: { type: 'string' }, detail: { type: 'string' }, json: { type: 'boolean' }, ...WHERE }, { positionals: true });
  const id = subjectArg('job event', JOB, values.job, positionals);
  if (!values.event) throw new UsageError('job event: --event NAME is required; see `mam job event --help`');
  const name = JobEventName.safeParse(values.event);
  if (!name.success) throw new UsageError(`job event: unknown event ${JSON.stringify(values.event)}; one of ${JOB_EVENTS.join(', ')}`);
  const jobs = jobContext(context, values, `mam-event-${process.pid}-${Date.now()}`);
  const { applied, publishError } = await recordEvent(jobs, id, name.data, values.detail ?? null);
  try {
    if (!('recorded' in applied)) {
      writeLine(context.stderr, `mam: ${applied.ignored}`);
      return 1;
    }
    if (values.json) {
      const { seq } = applied.recorded;
      writeLine(context.stdout, JSON.stringify({ job_id: id, event: name.data, seq, status: applied.job.status, published: publishError === undefined, publish_error: publishError ?? null }));
    }
    if (publishError) {
      writeLine(context.stderr, `mam: event ${applied.recorded.seq} recorded in the job file, but not published: ${publishError}`);
      return 2;
    }
    if (!values.json) writeLine(context.stdout, `${id}: ${name.data} recorded (#${applied.recorded.seq}), job ${applied.job.status}`);
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
