import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { agentKind, launcherFor } from '../agents/index.js';
import { errorMessage, MamError, UsageError } from '../errors.js';
import { setEntryFields, type EntryFields, type ParsedRegistry } from '../registry/document.js';
import { isoSeconds, type RegistryEntry } from '../registry/schema.js';
import { withLock } from '../registry/lock.js';
import { lockFileOf, readRegistry, updateRegistry } from '../registry/store.js';
import { observe } from '../reconcile/observe.js';
import { reconcile } from '../reconcile/reconcile.js';
import { isAlive, processTree, signalAll, type ProcessId } from '../proc/tree.js';
import type { TmuxServer } from '../tmux/client.js';
import { capturePane, killSession, sendKeys, sessionExists, sessionPane } from '../tmux/session.js';
import { waitFor } from '../util/wait.js';
import type { LifecycleContext } from './context.js';
import { refuseOwnedElsewhere, refuseStarting } from './ownership.js';

/**
 * `mam stop`, as seed 001 specifies it: refuse what is not registered (unless forced); snapshot the
 * screen and settle the conversation id before anything is killed; then the ladder — the agent's own
 * exit keys (up to 3 s), kill-session (up to 5 s), SIGKILL of the pane's process tree — and finally the
 * registry fields of the seed's state machine. Waits poll for the outcome: they are upper bounds.
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

export const EXIT_KEYS_WAIT_MS = 3_000;
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

  // Seed 000 Workflow D: a session running a delegated job tells the job it is being terminated.
  await reportToJob(context, entry, 'progress', 'terminating');

  const server = entry.tmux_server ?? null;
  const kind = agentKind(entry.agent);
  const pane = await sessionPane(server, entry.name, context.tmux);
  let lastVisible = entry.last_visible_status ?? null;
  let conversationId = kind ? (entry[kind.conversationIdField] ?? entry.agent_identities?.[kind.id]?.session_id ?? null) : null;
  let rung: Rung = 'already-gone';
  if (pane) {
    // Before anything is killed: what the screen said, and which conversation this was.
    const screen = await capturePane(server, entry.name, 0, context.tmux);
    if (screen !== undefined) lastVisible = lastLines(screen, SNAPSHOT_LINES);
    conversationId ??= await conversationOf(context, registry, entry);
    if (entry.status === 'running') rung = await ladder(context, server, entry.name, launcherFor(entry.agent).exitKeys, pane.pid);
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
          termination_mode: rung === 'already-gone' ? 'auto-detected' : 'graceful',
          resumable: true,
        }),
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
 * The seed's ladder. The pane's process tree is recorded first, so the last rung kills exactly the
 * processes that were ours — never a pid that was reused meanwhile.
 */
async function ladder(context: LifecycleContext, server: TmuxServer, name: string, exitKeys: Parameters<typeof sendKeys>[2], panePid?: number): Promise<Rung> {
  const pid = panePid ?? (await sessionPane(server, name, context.tmux))?.pid;
  if (pid === undefined) return 'already-gone';
  const tree = processTree(pid);
  // A shell at the root of the pane outlives the agent it ran: the agent is what must be gone.
  const agentProcesses = tree.length > 1 && SHELLS.has(commandOf(pid)) ? tree.slice(1) : tree;
  const gone = (processes: readonly ProcessId[]) => (): boolean => processes.every((process) => !isAlive(process));

  await sendKeys(server, name, exitKeys, context.tmux);
  if (await waitFor(gone(agentProcesses), EXIT_KEYS_WAIT_MS)) {
    await killSession(server, name, context.tmux);
    return 'exit-keys';
  }
  await killSession(server, name, context.tmux);
  if (await waitFor(gone(tree), KILL_SESSION_WAIT_MS)) return 'kill-session';
  signalAll(tree, 'SIGKILL');
  await waitFor(gone(tree), 1_000);
  if (await sessionExists(server, name, context.tmux)) await killSession(server, name, context.tmux);
  return 'sigkill';
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
