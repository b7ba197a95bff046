import { MamError, UsageError } from '../util/errors.js';
import { AGENT_KINDS } from '../agents/index.js';
import { DEFAULT_AGENT, registryPath } from '../config.js';
import { jobsDir } from '../jobs/context.js';
import { reportEvent, type EventReport } from '../jobs/daemon-client.js';
import { isJobEventName, JOB_EVENTS, JOB_ID_PATTERN } from '../jobs/names.js';
import { JOB, JOB_WHERE, parseFlags, positiveSeconds, subjectArg, untilStopped, withArgv, writeLine, type CliContext, type Command } from './command.js';

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
catch up from the file); 64 usage error.
The event is handed to the job daemon (\`mam job daemon --help\`), which answers once it is recorded and
published; with none running, this call records it itself and starts one for the next calls (MAM_JOB_DAEMON=0: never).`,
  daemon: `Usage: mam job daemon [--idle-exit SECONDS]

The job daemon, in the foreground: it takes \`mam job event\` calls over a unix socket in
\${XDG_CACHE_HOME:-~/.cache}/mam/jobd/ (MAM_JOB_DAEMON_DIR), records the events that arrive together with one lock
and one fsynced write per job, publishes them over one broker connection, and answers each call only then. The
first \`mam job event\` that finds none starts one detached (--idle-exit 300); a second one started for the same
broker settings sees the first and exits. A call it cannot answer (not running, busy, killed, slower than
MAM_JOB_DAEMON_TIMEOUT seconds, default 15) records its event itself: nothing is lost, nothing recorded twice.

Options:
  --idle-exit SECONDS   exit after this long without a call (default 300)`,
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
  daemon [--idle-exit S]          the resident process job events go through (started on demand)

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
    const own = sub === 'event' ? event : sub === 'daemon' ? daemon : undefined;
    if (own) return own(withArgv(context, rest));
    const { SUBCOMMANDS } = await import('./job-commands.js');
    const handler = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!handler) throw new UsageError(`job: ${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`}; one of ${['submit', 'event', ...Object.keys(SUBCOMMANDS).slice(1), 'daemon'].join(', ')}; see \`mam job --help\``);
    return handler(withArgv(context, rest));
  },
};

/**
 * What an agent runs for every event, so it loads only this file's imports (no zod, no MQTT): the event goes to the
 * job daemon, or, with none answering, is recorded by this call through job-commands.ts as before.
 */
async function event(context: CliContext): Promise<number> {
  const { values, positionals } = parseFlags('job event', context.argv, { job: { type: 'string' }, event: { type: 'string' }, detail: { type: 'string' }, json: { type: 'boolean' }, ...JOB_WHERE }, { positionals: true });
  const id = subjectArg('job event', JOB, values.job, positionals);
  if (!values.event) throw new UsageError('job event: --event NAME is required; see `mam job event --help`');
  const name = values.event;
  if (!isJobEventName(name)) throw new UsageError(`job event: unknown event ${JSON.stringify(values.event)}; one of ${JOB_EVENTS.join(', ')}`);
  if (!JOB_ID_PATTERN.test(id)) throw new MamError(`${JSON.stringify(id)} is not a job id (they look like j_ and 24 hex digits)`, { exitCode: 64 });
  const dir = jobsDir({ cwd: context.cwd, registryFile: registryPath(values.registry, context.env, context.cwd), registryDir: values['registry-dir'] });
  const detail = values.detail ?? null;
  const report: EventReport = await reportEvent(context.env, { dir, id, event: name, detail }, async (key) => (await import('./job-commands.js')).recordDirect(context, values, id, name, detail, key));
  if ('error' in report) throw new MamError(report.error, { exitCode: report.exit_code });
  if ('ignored' in report) {
    writeLine(context.stderr, `mam: ${report.ignored}`);
    return 1;
  }
  const { seq } = report.recorded;
  if (values.json) writeLine(context.stdout, JSON.stringify({ job_id: id, event: name, seq, status: report.status, published: report.published, publish_error: report.publish_error }));
  if (!report.published) {
    writeLine(context.stderr, `mam: event ${seq} recorded in the job file, but not published: ${report.publish_error ?? 'no reason given'}`);
    return 2;
  }
  if (!values.json) writeLine(context.stdout, `${id}: ${name} recorded (#${seq}), job ${report.status}`);
  return 0;
}

async function daemon(context: CliContext): Promise<number> {
  const { values } = parseFlags('job daemon', context.argv, { 'idle-exit': { type: 'string' } });
  const idleExitS = positiveSeconds('job daemon', 'idle-exit', values['idle-exit'], 300);
  const [{ daemonFiles }, { daemonTransport, runJobDaemon }] = await Promise.all([import('../jobs/daemon-client.js'), import('../jobs/daemon.js')]);
  const log = (line: string): void => writeLine(context.stdout, `${new Date().toISOString()} ${line}`);
  await untilStopped((signal) => runJobDaemon({ files: daemonFiles(context.env), idleExitMs: idleExitS * 1000, lock: { timeoutMs: 30_000 }, transport: daemonTransport(context.env, log), now: Date.now, log, signal }));
  return 0;
}
