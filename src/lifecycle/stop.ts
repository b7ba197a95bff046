import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { agentKind, launcherFor } from '../agents/index.js';
import { stopGraceMs } from '../config.js';
import { errorMessage, MamError, UsageError } from '../util/errors.js';
import { setEntryFields, type EntryFields, type ParsedRegistry } from '../registry/document.js';
import { isoSeconds, type RegistryEntry } from '../registry/schema.js';
import { withLock } from '../registry/lock.js';
import { lockFileOf, readRegistry, updateRegistry } from '../registry/store.js';
import { observe } from '../reconcile/observe.js';
import { lastLines as nonEmptyLines, reconcile } from '../reconcile/reconcile.js';
import { isAlive, processId, processTree, sessionMembers, signalAll, type ProcessId } from '../proc/tree.js';
import { sessionTarget, type TmuxServer } from '../tmux/client.js';
import { deadPane, killSession, sendKeys, sessionExists, sessionPane, sessionPaneAndScreen } from '../tmux/session.js';
import { waitFor } from '../util/wait.js';
import type { LifecycleContext } from './context.js';
import { refuseOwnedElsewhere, refuseStarting } from './ownership.js';

/**
 * `mam stop`, as the stop skill specifies it (docs/lifecycle.md, 'stop'): refuse what is not registered (unless
 * forced); snapshot the screen and settle the conversation id before anything is killed; then the ladder — the
 * agent's own exit keys (up to 3 s), kill-session (up to 5 s), SIGKILL of the pane's process tree — and finally
 * the registry fields that page lists. Waits poll for the outcome: they are upper bounds.
 */
export interface StopRequest {
  readonly session: string;
  readonly reason: string | undefined;
  readonly purge: boolean;
  readonly yes: boolean;
  readonly forceNoYaml: boolean;
  /** With --force-no-yaml, the tmux server of the unregistered session. */
  readonly server: TmuxServer;
}

export type StopOutcome =
  | { readonly kind: 'stopped'; readonly rung: Rung; readonly fields: EntryFields; readonly purged: readonly string[] }
  | { readonly kind: 'already'; readonly message: string }
  | { readonly kind: 'forced'; readonly rung: Rung };

/** How far down the ladder the stop had to go; `already-gone` when tmux had no such session. */
export type Rung = 'exit-keys' | 'kill-session' | 'sigkill' | 'already-gone';

export const KILL_SESSION_WAIT_MS = 5_000;
const SHELLS = new Set(['bash', 'zsh', 'sh', 'dash', 'fish', 'ksh', 'tcsh', 'csh']);
const SNAPSHOT_LINES = 40;

export async function stopSession(context: LifecycleContext, request: StopRequest): Promise<StopOutcome> {
  if (request.purge && !request.yes) {
    throw new UsageError('stop: --purge-conversation deletes the conversation for good and ends any chance to resume; add --yes to confirm (nothing was done)');
  }
  const registry = await readRegistry(context.registryFile);
  const entry = registry.entries.find((candidate) => candidate.name === request.session);
  // A session another registry owns is stopped through that registry, which is the one that records it.
  await refuseOwnedElsewhere(context, entry ? (entry.tmux_server ?? null) : request.server, request.session);
  if (!entry) {
    if (registry.names.has(request.session)) throw new MamError(`${request.session}: its registry entry is invalid (see \`mam reconcile --once\`); fix it before stopping`);
    if (!request.forceNoYaml) {
      throw new MamError(`${request.session} is not in the registry ${context.registryFile}: refusing to stop it without an audit trail; register it first (mam reconcile) or pass --force-no-yaml`);
    }
    context.say(`${request.session} is not registered: stopping it anyway (--force-no-yaml), nothing will be recorded`);
    return { kind: 'forced', rung: await ladder(context, request.server, request.session, launcherFor('unknown').exitKeys) };
  }

  refuseStarting(entry, 'stop it');
  const already = alreadyDone(entry, request.purge);
  if (already) return { kind: 'already', message: already };

  // A stop the registry cannot record must not happen: if another writer holds the lock past the
  // timeout, fail now, before the agent is touched, rather than after it is dead with nothing written.
  await withLock(lockFileOf(context.registryFile), async () => undefined, context.lock);

  // A session running a delegated job tells the job it is being terminated (docs/jobs.md, 'Lifecycle').
  await reportToJob(context, entry, 'progress', 'terminating');

  const server = entry.tmux_server ?? null;
  const kind = agentKind(entry.agent);
  // The pane and, read in the same tmux call before anything is killed, what its screen said.
  const seen = await sessionPaneAndScreen(server, entry.name, context.tmux);
  let lastVisible = entry.last_visible_status ?? null;
  let conversationId = kind ? (entry[kind.conversationIdField] ?? entry.agent_identities?.[kind.id]?.session_id ?? null) : null;
  let rung: Rung = 'already-gone';
  let exitStatus: number | null | undefined;
  if (seen) {
    const { pane } = seen;
    lastVisible = lastLines(seen.screen, SNAPSHOT_LINES);
    // Before anything is killed: which conversation this was.
    conversationId ??= await conversationOf(context, registry, entry);
    const dead = pane.dead ? await deadPane(server, sessionTarget(entry.name), context.tmux) : undefined;
    if (pane.dead) {
      // The agent already died and tmux kept its pane (remain-on-exit, sessions mam starts): nothing is left to stop,
      // only the dead pane to close; its exit status and last words are recorded as a pass would.
      exitStatus = dead?.status ?? pane.deadStatus ?? null;
      if (dead) lastVisible = nonEmptyLines(dead.screen, SNAPSHOT_LINES);
      context.say(`${entry.name}: its agent had already exited${exitStatus === null ? '' : ` with status ${exitStatus}`}; closing its dead pane`);
      await killSession(server, entry.name, context.tmux);
    } else if (entry.status === 'running') rung = await ladder(context, server, entry.name, launcherFor(entry.agent).exitKeys, pane.pid, entry.agent);
    else await killSession(server, entry.name, context.tmux);
  } else {
    context.say(`${entry.name}: its tmux session is already gone; updating the registry only`);
  }

  const purged: string[] = [];
  if (request.purge) {
    if (!kind || !conversationId) context.say(`${entry.name}: no conversation is recorded, so there is nothing to purge`);
    else {
      for (const target of await kind.purgePaths(conversationId, entry.workspace, context.artifacts)) {
        await rm(target, { recursive: true, force: true });
        purged.push(target);
      }
    }
  }

  const now = context.now();
  const fields: EntryFields = {
    ...(request.purge
      ? { status: 'terminated', terminated_at: isoSeconds(now), terminated_at_epoch: Math.floor(now / 1000), termination_mode: 'purge', resumable: false }
      : {
          status: 'stopped',
          stopped_at: isoSeconds(now),
          stopped_at_epoch: Math.floor(now / 1000),
          termination_mode: terminationMode(rung),
          resumable: true,
        }),
    // Which rung ended the agent; null when it was gone before the ladder began (nothing to record, nothing stale).
    stop_rung: rung === 'already-gone' ? null : rung,
    ...(exitStatus === undefined ? {} : { exit_status: exitStatus }),
    stop_reason: request.reason ?? entry.stop_reason ?? 'user-requested',
    ...(kind ? { [kind.conversationIdField]: conversationId } : {}),
    last_visible_status: lastVisible,
  };
  try {
    await updateRegistry(
      context.registryFile,
      (fresh) => {
        if (!setEntryFields(fresh.document, entry.name, fields)) throw new MamError(`${entry.name} disappeared from the registry while it was being stopped`);
        return { changed: true, result: undefined };
      },
      context.lock,
    );
  } catch (error) {
    // The agent is already stopped: at least hand over what should have been recorded.
    throw new MamError(`${entry.name} was stopped (${rung}) but the registry could not be updated: ${errorMessage(error)}. Record these fields by hand: ${JSON.stringify(fields)}`, {
      exitCode: error instanceof MamError ? error.exitCode : 1,
      cause: error,
    });
  }
  await reportToJob(context, entry, 'completed', `session ${entry.name} stopped (${rung})`);
  return { kind: 'stopped', rung, fields, purged };
}

/** Records (and publishes) a lifecycle event on the entry's delegated job, if it has an open one. */
export async function reportToJob(context: LifecycleContext, entry: RegistryEntry, event: 'progress' | 'completed' | 'error', detail: string): Promise<void> {
  if (!entry.delegate_job_id || !entry.delegate_job_registry) return;
  const { jobContext } = await import('../jobs/context.js');
  const { recordEvent } = await import('../jobs/service.js');
  const jobs = jobContext({ env: context.env, cwd: entry.workspace, registryFile: context.registryFile, registryDir: entry.delegate_job_registry, clientId: '', warn: context.say });
  try {
    const { applied, publishError } = await recordEvent(jobs, entry.delegate_job_id, event, detail);
    if ('ignored' in applied) return;
    if (publishError) context.say(`job ${entry.delegate_job_id}: ${event} recorded, not published (${publishError})`);
  } catch (error) {
    context.say(`job ${entry.delegate_job_id}: could not record ${event}: ${errorMessage(error)}`);
  } finally {
    await (await jobs.transport())?.close().catch(() => undefined);
  }
}

function alreadyDone(entry: RegistryEntry, purge: boolean): string | undefined {
  if (entry.status === 'terminated' && (entry.termination_mode === 'purge' || !purge)) {
    return `already terminated (${entry.terminated_at ?? 'time unknown'}, ${entry.termination_mode ?? 'mode unknown'})`;
  }
  if (entry.status === 'stopped' && !purge) return `already stopped (${entry.stopped_at ?? 'time unknown'}, reason: ${entry.stop_reason ?? 'none'})`;
  return undefined;
}

/**
 * Graceful only when the agent ended on its own exit keys and nothing of it needed a signal; `forced` once
 * kill-session (SIGHUP) or SIGKILL had to end it; `auto-detected` when it was gone before the ladder began.
 */
export function terminationMode(rung: Rung): 'graceful' | 'forced' | 'auto-detected' {
  return rung === 'exit-keys' ? 'graceful' : rung === 'already-gone' ? 'auto-detected' : 'forced';
}

/**
 * The stop ladder (docs/lifecycle.md, 'stop'). What it must end is the pane's whole process session (the pane's
 * process is a session leader: tmux calls setsid), re-read at every look — not a process list taken once — so
 * whatever the agent starts during the ladder, and whatever is reparented to pid 1 when its parent dies, is still
 * found and still killed (issue 13.1).
 * Every process is identified with its start time, so a pid reused meanwhile by someone else is never signalled.
 */
async function ladder(context: LifecycleContext, server: TmuxServer, name: string, exitKeys: Parameters<typeof sendKeys>[2], panePid?: number, agent?: string): Promise<Rung> {
  const pid = panePid ?? (await sessionPane(server, name, context.tmux))?.pid;
  const leader = pid === undefined ? undefined : processId(pid);
  if (pid === undefined || leader === undefined) {
    await killSession(server, name, context.tmux);
    return 'already-gone';
  }
  const seen = new Map<string, ProcessId>();
  /** Everything of the pane still alive: its session's members and, while the leader lives, its process tree. */
  const look = (): ProcessId[] => {
    const found = isAlive(leader) ? [...processTree(pid), ...sessionMembers(leader)] : sessionMembers(leader);
    for (const id of found) seen.set(`${id.pid}:${id.start}`, id);
    return [...seen.values()].filter(isAlive);
  };
  // A shell at the root of the pane outlives the agent it ran: the agent is what must be gone. Unless the agent is
  // itself that shell (`--agent bash`): then the shell must be gone, also while it runs no child (between two
  // commands, or a shutdown trap in a builtin), which would otherwise look like an agent that left.
  const shellRoot = !(agent !== undefined && SHELLS.has(agent)) && look().length > 1 && SHELLS.has(commandOf(pid));
  const agentLeft = (): ProcessId[] => look().filter((id) => !(shellRoot && id.pid === leader.pid && id.start === leader.start));

  try {
    const graceMs = stopGraceMs(context.env);
    context.progress(`stopping ${name}: exit keys sent, waiting for the agent to leave (up to ${graceMs / 1000} s)`);
    await sendKeys(server, name, exitKeys, context.tmux);
    const onKeys = await waitFor(() => agentLeft().length === 0, graceMs, 100);
    if (!onKeys) context.progress(`stopping ${name}: still running after the exit keys; kill-session, waiting for it to end (up to ${KILL_SESSION_WAIT_MS / 1000} s)`);
    await killSession(server, name, context.tmux);
    // Closing the session hangs up its terminal; what ignores SIGHUP is still there, and only SIGKILL ends it.
    if (await waitFor(() => look().length === 0, KILL_SESSION_WAIT_MS, 100)) return onKeys ? 'exit-keys' : 'kill-session';
    context.progress(`stopping ${name}: processes outlived kill-session; SIGKILL`);
    // Looked at again right before each SIGKILL: a process forked between the look and the signal is caught next round.
    await waitFor(() => {
      const left = look();
      signalAll(left, 'SIGKILL');
      return left.length === 0;
    }, 2_000, 50);
    if (await sessionExists(server, name, context.tmux)) await killSession(server, name, context.tmux);
    return 'sigkill';
  } finally {
    context.progress(undefined);
  }
}

/** The conversation the entry's agent is in, decided exactly as reconcile's class C decides it. */
async function conversationOf(context: LifecycleContext, registry: ParsedRegistry, entry: RegistryEntry): Promise<string | null> {
  const only = { entries: [entry], names: new Set([entry.name]) };
  const observation = await observe(only, { extraServers: [], tmux: context.tmux, artifacts: context.artifacts }, context.now);
  const found = reconcile({ entries: registry.entries, names: registry.names }, observation, context.now()).drifts.find(
    (drift) => drift.class === 'C' && drift.session === entry.name,
  );
  return found?.class === 'C' ? found.conversation_id : null;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function lastLines(screen: string, count: number): string {
  return screen.replace(/\s+$/, '').split('\n').slice(-count).join('\n');
}
