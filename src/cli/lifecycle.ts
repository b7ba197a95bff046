import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_KINDS } from '../agents/index.js';
import { registryPath } from '../config.js';
import type { JobContext } from '../jobs/service.js';
import { UsageError } from '../util/errors.js';
import { lifecycleContext, newSessionServer } from '../lifecycle/context.js';
import { createSession, interruptedError } from '../lifecycle/create.js';
import { deleteSession, historyFile } from '../lifecycle/delete.js';
import { resumeSession } from '../lifecycle/resume.js';
import { stopSession } from '../lifecycle/stop.js';
import { liveProgress, parseFlags, SESSION, type LiveProgress, subjectArg, writeLine, type CliContext, type Command } from './command.js';

/** The session lifecycle commands: create, resume, stop, delete. Thin: the work is in lifecycle/. */

/** `mam stop NAME` as typed: a name that starts with `-` goes after `--`. */
export function nameWord(name: string): string {
  return name.startsWith('-') ? `-- ${name}` : name;
}

export const createCommand: Command = {
  help: `Usage: mam create --agent ${AGENT_KINDS.map((kind) => kind.id).join('|')}|<command> --workspace DIR [--name N] [--tmux-server S]
                  [--submit-job PROMPT] [--hooks] [--auto-resume [--auto-resume-text TEXT]] [--registry PATH] [--json]
                  [-- agent args…]

Start an agent in a new tmux session and register it. The name defaults to <workspace basename>-creator-<agent>;
the session goes on mam's own tmux socket (-L mam) unless --tmux-server says otherwise, starts in the workspace,
and has MAM_SESSION=<name> in its environment. The registry records start_command, the pane (pid, cmd, cwd)
and created_at. A name already registered, or already a tmux session, is refused. --submit-job types PROMPT into
the agent once it is ready and checks that it was submitted: it becomes a delegated job (a fresh job id in
--registry-dir, default ./.mam/jobs; the agent gets the instruction header telling it how to report with
\`mam job event\`), and the entry records delegate_job_id. --hooks (${AGENT_KINDS.filter((kind) => kind.hooks).map((kind) => kind.id).join(', ')}) first installs mam's hooks
in the workspace's own settings file (\`mam hooks --help\` says which), so the session reports working / needs
approval / waiting from its first moment. --auto-resume records auto_resume: true: when the agent stops on a
usage limit and says when it resets, the status watcher types \`continue\` (or --auto-resume-text, one line) into it
once at that time (docs/status.md, 'Usage limits').
Arguments after -- go to the agent.`,
  async run(context) {
    // SIGINT/SIGTERM no longer end mam mid-create: create stops at its next step and undoes it, or finishes
    // registering the session it started, then exits 130/143 (issue 13.2). Only while this command runs.
    const interrupt = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => interrupt.abort(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await create(context, interrupt.signal);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

function parseCreate(argv: readonly string[]) {
  return parseFlags('create', argv, {
    agent: { type: 'string' },
    workspace: { type: 'string' },
    name: { type: 'string' },
    'tmux-server': { type: 'string' },
    'submit-job': { type: 'string' },
    hooks: { type: 'boolean' },
    'auto-resume': { type: 'boolean' },
    'auto-resume-text': { type: 'string' },
    'registry-dir': { type: 'string' },
    registry: { type: 'string' },
    json: { type: 'boolean' },
  });
}

type CreateValues = ReturnType<typeof parseCreate>['values'];

async function create(context: CliContext, interrupt: AbortSignal): Promise<number> {
  const split = context.argv.indexOf('--');
  const own = split < 0 ? context.argv : context.argv.slice(0, split);
  const agentArgs = split < 0 ? [] : context.argv.slice(split + 1);
  const { values } = parseCreate(own);
  if (!values.agent || !values.workspace) throw new UsageError('create: --agent and --workspace are required; see `mam create --help`');
  const text = values['auto-resume-text'];
  if (text !== undefined && !values['auto-resume']) throw new UsageError('create: --auto-resume-text goes with --auto-resume');
  if (text !== undefined && (text.trim() === '' || /[\r\n]/.test(text))) throw new UsageError('create: --auto-resume-text must be one non-empty line (it is typed into the agent and submitted with Enter)');
  const live = liveProgress(context);
  try {
    return await createWith(context, values, { agent: values.agent, workspace: values.workspace, agentArgs }, interrupt, live);
  } finally {
    live.done();
  }
}

async function createWith(
  context: CliContext,
  values: CreateValues,
  { agent, workspace, agentArgs }: { agent: string; workspace: string; agentArgs: readonly string[] },
  interrupt: AbortSignal,
  live: LiveProgress,
): Promise<number> {
  const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: live.say, progress: live.progress });
  if (values.hooks) {
    // Project-scope hooks, installed before the agent starts: an agent reads its hooks only at start.
    const { hookAgents, hookCommandOf, hookReadiness, hookSettingsFile, hookTarget, installHooks, isHookAgent } = await import('../facts/hooks-install.js');
    if (!isHookAgent(agent)) {
      const labels = hookAgents().map((id) => hookTarget(id).hooks.label);
      throw new UsageError(`create: --hooks installs ${labels.slice(0, -1).join(', ')}${labels.length > 1 ? ' or ' : ''}${labels.at(-1) ?? ''} hooks; ${agent} has none (its status comes from the pane)`);
    }
    const target = hookTarget(agent);
    const file = hookSettingsFile(target, 'project', context.env, path.resolve(context.cwd, workspace));
    await installHooks(target, file, hookCommandOf('fast', context.env, fileURLToPath(new URL('../cli/', import.meta.url)), agent));
    live.say(`hooks installed in ${file}`);
    for (const line of await hookReadiness(target, context.env)) live.say(line);
  }
  // --submit-job goes through the job system: a fresh job id, and the agent is sent its instruction header.
  const delegated = values['submit-job'] === undefined
    ? undefined
    : await (await import('../lifecycle/delegate.js')).prepareDelegatedJob(await delegationContext(context, values), { agent, prompt: values['submit-job'], workdir: path.resolve(context.cwd, workspace) });
  const result = await createSession(lifecycle, {
    agent,
    workspace,
    name: values.name,
    server: newSessionServer(values['tmux-server'], context.env),
    agentArgs,
    submitJob: delegated?.instruction,
    delegateJobId: delegated?.job.job_id,
    delegateJobRegistry: delegated?.jobs.dir,
    autoResume: values['auto-resume'] ? { text: values['auto-resume-text'] } : undefined,
    interrupt,
  });
  if (delegated) {
    const { attachSession } = await import('../lifecycle/delegate.js');
    await attachSession(delegated.jobs, delegated.job.job_id, result.entry.name);
    live.say(`delegated job ${delegated.job.job_id} (mam job status ${delegated.job.job_id})`);
  }
  if (values.json) writeLine(context.stdout, JSON.stringify(result));
  else writeLine(context.stdout, result.entry.name);
  if (result.submitted && !result.submitted.ok) {
    writeLine(context.stderr, `mam: ${result.entry.name} was created, but the prompt was not delivered: ${result.submitted.detail}`);
    return 1;
  }
  // Interrupted after the session was registered: it stays (it is recorded, `mam stop` ends it); the exit says so.
  if (interrupt.aborted) throw interruptedError(interrupt, `${result.entry.name} was created and registered before it stopped; mam stop ${nameWord(result.entry.name)} ends it`);
  return 0;
}

export const resumeCommand: Command = {
  help: `Usage: mam resume NAME [--registry PATH] [--json]      (or --session NAME; a NAME starting with - goes after --)

Start a stopped (or dead) session again with its stored start command, in its conversation: first the recorded
conversation id, else the newest conversation in its workspace that no other session records; when there is none,
or the agent says it is gone, a fresh conversation — and it says which.`,
  async run(context) {
    const { values, positionals } = parseFlags('resume', context.argv, { session: { type: 'string' }, registry: { type: 'string' }, json: { type: 'boolean' } }, { positionals: true });
    const session = subjectArg('resume', SESSION, values.session, positionals);
    const live = liveProgress(context);
    try {
      const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: live.say, progress: live.progress });
      const result = await resumeSession(lifecycle, session);
      live.done();
      writeLine(context.stdout, values.json ? JSON.stringify(result) : `${session}: ${result.note}`);
      return 0;
    } finally {
      live.done();
    }
  },
};

export const stopCommand: Command = {
  help: `Usage: mam stop NAME [--reason R] [--purge-conversation --yes] [--force-no-yaml [--tmux-server S]]
                [--registry PATH] [--json]      (or --session NAME; a NAME starting with - goes after --)

Stop a session gracefully and record it (skill: multi-agent-stop). Captures the last screen and the
conversation id first, then: the agent's exit keys (/exit for Claude) and up to 3 s, kill-session and up to 5 s,
SIGKILL of whatever is left of the pane's process session, looked at again before each SIGKILL. Writes status:
stopped, stopped_at, stopped_at_epoch, stop_reason, stop_rung (exit-keys | kill-session | sigkill), termination_mode
(graceful when the exit keys ended it, forced when a signal was needed), the conversation id, resumable: true,
last_visible_status. With
--purge-conversation --yes: status: terminated, terminated_at(_epoch), termination_mode: purge, resumable: false,
and that one conversation's files are deleted. Stopping a stopped session prints "already stopped (…)" and exits 0.
An unregistered session is refused unless --force-no-yaml.`,
  async run(context) {
    const { values, positionals } = parseFlags('stop', context.argv, {
      session: { type: 'string' },
      reason: { type: 'string' },
      'purge-conversation': { type: 'boolean' },
      yes: { type: 'boolean' },
      'force-no-yaml': { type: 'boolean' },
      'tmux-server': { type: 'string' },
      registry: { type: 'string' },
      json: { type: 'boolean' },
    }, { positionals: true });
    const session = subjectArg('stop', SESSION, values.session, positionals);
    // Where an unregistered session is looked for (ownership, --force-no-yaml): the server new sessions go to.
    const server = newSessionServer(values['tmux-server'], context.env);
    const live = liveProgress(context);
    let outcome: Awaited<ReturnType<typeof stopSession>>;
    try {
      const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: live.say, progress: live.progress });
      outcome = await stopSession(lifecycle, {
        session,
        reason: values.reason,
        purge: values['purge-conversation'] ?? false,
        yes: values.yes ?? false,
        forceNoYaml: values['force-no-yaml'] ?? false,
        server,
      });
    } finally {
      live.done();
    }
    if (values.json) writeLine(context.stdout, JSON.stringify(outcome));
    else if (outcome.kind === 'already') writeLine(context.stdout, outcome.message);
    else if (outcome.kind === 'forced') writeLine(context.stdout, `stopped ${session} (${outcome.rung}); not registered, nothing recorded`);
    else writeLine(context.stdout, `${outcome.fields.status} ${session} (${outcome.rung})${outcome.purged.length ? `; purged ${outcome.purged.join(', ')}` : ''}`);
    return 0;
  },
};

export const deleteCommand: Command = {
  help: `Usage: mam delete NAME [--registry PATH] [--json]      (or --session NAME; a NAME starting with - goes after --)

Remove a stopped or terminated session from the registry (a running one is refused: stop it first). What was
removed is appended to <registry>.history.jsonl beside it. --json prints {"deleted": NAME, "history": FILE,
"record": the history line}.`,
  async run(context) {
    const { values, positionals } = parseFlags('delete', context.argv, { session: { type: 'string' }, registry: { type: 'string' }, json: { type: 'boolean' } }, { positionals: true });
    const session = subjectArg('delete', SESSION, values.session, positionals);
    const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: (line) => writeLine(context.stderr, line) });
    const record = await deleteSession(lifecycle, session);
    writeLine(context.stdout, values.json ? JSON.stringify({ deleted: session, history: historyFile(lifecycle.registryFile), record }) : `deleted ${session}`);
    return 0;
  },
};

/** Where `create --submit-job` registers its job: beside the registry, as `mam job` would. */
async function delegationContext(context: CliContext, values: { readonly registry?: string | undefined; readonly 'registry-dir'?: string | undefined }): Promise<JobContext> {
  const { jobContext } = await import('../jobs/context.js');
  return jobContext({
    env: context.env,
    cwd: context.cwd,
    registryFile: registryPath(values.registry, context.env, context.cwd),
    registryDir: values['registry-dir'],
    clientId: '',
    warn: (line) => writeLine(context.stderr, `mam: warning: ${line}`),
  });
}
