import { statSync } from 'node:fs';
import { constants } from 'node:os';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { agentKind, launcherFor, startEnvironment } from '../agents/index.js';
import { hostBoot } from '../proc/boot.js';
import { runFields } from '../reconcile/server-loss.js';
import { MamError, UsageError } from '../util/errors.js';
import { appendEntry } from '../registry/document.js';
import { AgentName, isoSeconds, SESSION_NAME_PATTERN, type RegistryEntry } from '../registry/schema.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { refuseStarting, settleStart, startingFields } from './ownership.js';
import { DuplicateSessionError, killSession, sessionOwner } from '../tmux/session.js';
import { joinWords } from '../util/shell-words.js';
import { which } from '../util/which.js';
import { attachHint, type LifecycleContext } from './context.js';
import { startAgent } from './start.js';
import { submitPrompt } from './submit.js';

export interface CreateRequest {
  readonly agent: string;
  readonly workspace: string;
  readonly name: string | undefined;
  readonly server: string;
  readonly agentArgs: readonly string[];
  readonly submitJob: string | undefined;
  /** The delegated job this session runs (`delegate_job_id`); the prompt then is its instruction. */
  readonly delegateJobId?: string | undefined;
  readonly delegateJobRegistry?: string | undefined;
  /** `auto_resume: true` (and its text, when not `continue`): resume by itself after a usage limit resets. */
  readonly autoResume?: { readonly text: string | undefined } | undefined;
  /** More registry fields, written with the entry's first write (the Kanban lane's `kanban_card`). */
  readonly extraFields?: Readonly<Record<string, string | number | boolean | null>> | undefined;
  /**
   * Aborted when the user interrupts (SIGINT/SIGTERM, reason: the signal name): create then stops at its next step
   * and undoes what it did — no tmux session it started is left behind unregistered (issue 13.2).
   */
  readonly interrupt?: AbortSignal | undefined;
}

export interface CreateResult {
  readonly entry: RegistryEntry;
  /** Set when --submit-job was given: whether the prompt was seen submitted. */
  readonly submitted?: { readonly ok: boolean; readonly detail: string };
}

/** `<workspace basename>-creator-<agent>`, with anything outside the name alphabet turned into `-`. */
export function defaultName(workspace: string, agent: string): string {
  return `${path.basename(workspace).replace(/[^A-Za-z0-9_-]/g, '-')}-creator-${agent.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/**
 * Registers an agent and starts it in a new tmux session. The entry is written first (`status: starting`, under
 * the registry lock, refusing a name already taken), then tmux creates the session — which decides name collisions
 * atomically — marked with this registry (`@mam_registry`), and once the agent is up the entry becomes `running`
 * with its pane facts. A start that fails removes the entry again and kills whatever session it left behind.
 */
export async function createSession(context: LifecycleContext, request: CreateRequest): Promise<CreateResult> {
  if (!AgentName.safeParse(request.agent).success) throw new UsageError(`create: --agent ${JSON.stringify(request.agent)} is not an agent kind or a command name`);
  const workspace = await realpath(request.workspace).catch(() => {
    throw new MamError(`workspace ${request.workspace} does not exist; create it first (mkdir -p ${JSON.stringify(request.workspace)})`);
  });
  if (!statSync(workspace).isDirectory()) throw new MamError(`workspace ${workspace} is not a directory`);
  const name = request.name ?? defaultName(workspace, request.agent);
  if (!SESSION_NAME_PATTERN.test(name)) throw new UsageError(`create: session name ${JSON.stringify(name)} is not 1–128 of A–Z a–z 0–9 _ -; pass --name`);

  const launcher = launcherFor(request.agent);
  if (!which(launcher.command, context.env)) {
    throw new MamError(`${launcher.command} not found on PATH; install it (or pass the agent's command name with --agent), nothing was created`);
  }
  refuseTaken(name, await readRegistry(context.registryFile));
  // Every step below either leaves the registry and tmux as they were, or ends with the session registered; an
  // interrupt is honoured between steps, each step itself (a locked registry write, a tmux call) runs to its end.
  const interrupted = (done: string): void => {
    if (request.interrupt?.aborted) throw interruptedError(request.interrupt, `${name} was not created${done}`);
  };
  interrupted('');

  const argv = [launcher.command, ...(launcher.launchArgs ?? []), ...request.agentArgs];
  const kind = agentKind(request.agent);
  // Recorded and given to the agent alike, so every later start (a resume after a reboot) gets the same values.
  const startEnv = startEnvironment(request.agent, context.env);
  const startingAt = context.now();
  const starting: RegistryEntry = {
    name,
    agent: request.agent,
    workspace,
    ...startingFields(startingAt),
    status: 'starting',
    tmux_server: request.server,
    pane: null,
    start_command: joinWords(argv),
    start_argv: argv,
    start_env: startEnv,
    mcp_attachments: [],
    ...(kind ? { [kind.conversationIdField]: null } : {}),
    delegate_job_id: request.delegateJobId ?? null,
    ...(request.delegateJobRegistry ? { delegate_job_registry: request.delegateJobRegistry } : {}),
    ...(request.autoResume ? { auto_resume: true, ...(request.autoResume.text === undefined ? {} : { auto_resume_text: request.autoResume.text }) } : {}),
    last_visible_status: null,
    created_at: isoSeconds(startingAt),
    ...request.extraFields,
  };
  // The entry first, then the session: a reconcile pass (a monitor woken by tmux within a second) that sees the new
  // session finds it registered and leaves it alone, instead of auto-registering it as class B under our feet.
  await updateRegistry(
    context.registryFile,
    (registry) => {
      refuseTaken(name, registry);
      appendEntry(registry.document, starting);
      return { changed: true, result: undefined };
    },
    context.lock,
  );
  if (request.interrupt?.aborted) {
    await settleStart(context, name, { remove: true });
    interrupted(' (its registry entry was removed again)');
  }

  let started: Awaited<ReturnType<typeof startAgent>>;
  try {
    started = await startAgent(context, { server: request.server, name, cwd: workspace, argv, launcher, env: startEnv, interrupt: request.interrupt }, request.submitJob ? 60_000 : 1_000);
  } catch (error) {
    // A tmux session of that name already existed (someone else's: left alone), or tmux failed — possibly after it
    // made the session (its client killed by the same Ctrl-C that hit us): a session carrying our mark is ours to close.
    if (!(error instanceof DuplicateSessionError) && (await ownedHere(context, request.server, name))) await killSession(request.server, name, context.tmux);
    await settleStart(context, name, { remove: true });
    interrupted(' (its tmux session was closed and its registry entry removed)');
    throw error;
  }
  if (request.interrupt?.aborted) {
    await killSession(request.server, name, context.tmux);
    await settleStart(context, name, { remove: true });
    interrupted(' (its tmux session was closed and its registry entry removed)');
  }
  if (started.outcome === 'exited' || !started.pane) {
    await killSession(request.server, name, context.tmux);
    await settleStart(context, name, { remove: true });
    throw new MamError(`${launcher.command} exited right after it started in ${workspace}; run \`${joinWords(argv)}\` there by hand to see why. Nothing was registered`);
  }

  const pane = { pid: started.pane.pid, cmd: started.pane.command, cwd: started.pane.cwd };
  // created_at is when the session was seen running: the grace window of a pass that looked at tmux earlier.
  const running = { status: 'running', pane, created_at: isoSeconds(context.now()), ...runFields(hostBoot(), started.pane.server) } as const;
  try {
    await settleStart(context, name, { fields: running });
  } catch (error) {
    await killSession(request.server, name, context.tmux);
    throw error;
  }
  const entry: RegistryEntry = { ...starting, ...running };
  delete entry.starting_pid;
  delete entry.starting_at;
  context.say(`created ${name}: ${joinWords(argv)} in ${workspace} (${attachHint(name)})`);

  if (request.submitJob === undefined) return { entry };
  // The prompt (for a delegated job: its instruction header and task) is typed in, and its submission checked.
  const submitted = await submitPrompt(context, { server: request.server, name, launcher, prompt: request.submitJob, ready: started.outcome === 'ready' });
  return { entry, submitted };
}

async function ownedHere(context: LifecycleContext, server: string, name: string): Promise<boolean> {
  const found = await sessionOwner(server, name, context.tmux);
  return found.exists && found.owner === context.registryFile;
}

/** Exit 128 + the signal's number, as a shell reports a command the signal ended (SIGINT 130, SIGTERM 143). */
export function interruptedError(interrupt: AbortSignal, what: string): MamError {
  const signal = typeof interrupt.reason === 'string' ? interrupt.reason : 'SIGINT';
  const number = (constants.signals as Record<string, number | undefined>)[signal] ?? 2;
  return new MamError(`create interrupted (${signal}): ${what}`, { exitCode: 128 + number });
}

function refuseTaken(name: string, registry: { entries: readonly RegistryEntry[]; names: ReadonlySet<string> }): void {
  if (!registry.names.has(name)) return;
  const existing = registry.entries.find((entry) => entry.name === name);
  if (existing?.status === 'starting') refuseStarting(existing, 'use this name (or pick another --name)');
  const advice =
    existing?.status === 'running'
      ? 'it is running; stop it first (mam stop NAME) or pick another --name'
      : existing
        ? `it is ${existing.status}; resume it (mam resume NAME) or delete it first (mam delete NAME)`
        : 'its registry entry is invalid; fix or remove it first';
  throw new MamError(`session ${name} is already in the registry: ${advice.replaceAll('NAME', name)}`);
}
