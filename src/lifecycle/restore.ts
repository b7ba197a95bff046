import { setTimeout as sleep } from 'node:timers/promises';
import { launcherFor } from '../agents/index.js';
import { hostBoot, type HostBoot } from '../proc/boot.js';
import { sessionLive } from '../reconcile/reconcile.js';
import { serverLoss } from '../reconcile/server-loss.js';
import { type RegistryEntry, type ServerLoss, type SessionStatus } from '../registry/schema.js';
import { readRegistry } from '../registry/store.js';
import { serverKey, snapshotServer, type ServerSnapshot } from '../tmux/client.js';
import { errorMessage, MamError } from '../util/errors.js';
import { joinWords } from '../util/shell-words.js';
import type { LifecycleContext } from './context.js';
import { chooseConversation, ConversationMissingError, recordedConversation, resumeSession, startArgv, type ResumeTier } from './resume.js';

/**
 * `mam restore`: after a reboot or a tmux server crash, start again every session that went with its tmux server —
 * in its recorded conversation, with its stored argv, environment and directory (the resume of ./resume.ts), at most
 * `parallel` starting at a time, starts `staggerMs` apart, each slot freed when its agent shows its prompt. A
 * conversation whose files are gone is reported and not started, unless `freshIfMissing`.
 */

/** What restore would do with one session. */
export interface RestorePlanItem {
  readonly session: string;
  readonly agent: string;
  readonly workspace: string;
  readonly tmux_server: string;
  /** How it was lost: `reboot` or `crash` (docs/lifecycle.md, 'restore'). */
  readonly lost: ServerLoss;
  /** `running` when no reconcile pass has seen the loss yet, `terminated` once one has. */
  readonly status: SessionStatus;
  readonly conversation: { readonly id: string | null; readonly state: 'found' | 'missing' | 'none' };
  /** `resume` into the conversation, `fresh` (nothing recorded, or --fresh-if-missing), `skip` (its files are gone). */
  readonly action: 'resume' | 'fresh' | 'skip';
  /** The command that would start (for `resume` with the resume arguments), in `workspace`, with `env` added. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly note: string;
}

export interface RestoreResult {
  readonly session: string;
  readonly outcome: 'restored' | 'missing' | 'failed';
  readonly tier: ResumeTier | null;
  readonly conversation_id: string | null;
  /** When its start began and ended (its agent showed its prompt, or failed), ISO with milliseconds. */
  readonly started_at: string | null;
  readonly ready_at: string | null;
  readonly message: string;
}

export interface RestoreReport {
  readonly registry: string;
  readonly dry_run: boolean;
  readonly boot_id: string | null;
  readonly parallel: number;
  readonly stagger_ms: number;
  readonly plan: readonly RestorePlanItem[];
  /** Empty for a dry run or when nothing was confirmed. */
  readonly results: readonly RestoreResult[];
  /** False when the confirmation was declined: nothing was started. */
  readonly confirmed: boolean;
}

export interface RestoreRequest {
  readonly dryRun: boolean;
  readonly parallel: number;
  readonly staggerMs: number;
  readonly freshIfMissing: boolean;
  /** Only these sessions (none: every lost one). A name that is not lost is an error. */
  readonly sessions?: readonly string[];
  /** Asked once with the plan, before anything starts, unless it is a dry run or nothing would start. */
  readonly confirm: (plan: readonly RestorePlanItem[]) => Promise<boolean>;
  /** Told each start and each end as it happens. */
  readonly onResult?: (event: { readonly session: string; readonly phase: 'starting' } | RestoreResult) => void;
}

export const DEFAULT_PARALLEL = 3;
export const DEFAULT_STAGGER_MS = 2_000;

/**
 * The sessions lost with their tmux server, in registry order: entries a pass marked (`tmux_server_lost`, status
 * terminated, auto-detected), and entries still `running` whose server is gone or replaced (no pass ran since).
 * A session alive again in tmux (someone started it meanwhile) is not lost. Pure.
 */
export function lostSessions(entries: readonly RegistryEntry[], snapshots: ReadonlyMap<string, ServerSnapshot>, boot: HostBoot): { entry: RegistryEntry; lost: ServerLoss }[] {
  const lost: { entry: RegistryEntry; lost: ServerLoss }[] = [];
  for (const entry of entries) {
    const snapshot = snapshots.get(serverKey(entry.tmux_server ?? null));
    if (snapshot?.state === 'up' && sessionLive(snapshot.panes, entry.name)) continue;
    if (entry.status === 'terminated' && entry.termination_mode === 'auto-detected' && entry.tmux_server_lost) {
      lost.push({ entry, lost: entry.tmux_server_lost });
      continue;
    }
    if (entry.status !== 'running') continue;
    const why = serverLoss(entry, snapshot, boot);
    if (why) lost.push({ entry, lost: why });
  }
  return lost;
}

export async function restoreSessions(context: LifecycleContext, request: RestoreRequest): Promise<RestoreReport> {
  const boot = hostBoot();
  const registry = await readRegistry(context.registryFile);
  const servers = new Map<string, string | null>();
  for (const entry of registry.entries) servers.set(serverKey(entry.tmux_server ?? null), entry.tmux_server ?? null);
  const snapshots = new Map((await Promise.all([...servers.values()].map((server) => snapshotServer(server, context.tmux)))).map((snapshot) => [serverKey(snapshot.server), snapshot]));
  let lost = lostSessions(registry.entries, snapshots, boot);
  if (request.sessions?.length) {
    const wanted = new Set(request.sessions);
    const unknown = [...wanted].filter((name) => !lost.some((item) => item.entry.name === name));
    if (unknown.length > 0) {
      throw new MamError(`${unknown.join(', ')}: not a session lost with its tmux server in ${context.registryFile}; \`mam restore --dry-run\` lists those that are (mam resume NAME starts any stopped one)`);
    }
    lost = lost.filter((item) => wanted.has(item.entry.name));
  }
  const plan: RestorePlanItem[] = [];
  for (const { entry, lost: how } of lost) plan.push(await planOne(context, entry, how, registry.entries, request.freshIfMissing));

  const report = { registry: context.registryFile, dry_run: request.dryRun, boot_id: boot.bootId ?? null, parallel: request.parallel, stagger_ms: request.staggerMs, plan };
  const startable = plan.filter((item) => item.action !== 'skip');
  const skipped = plan.filter((item) => item.action === 'skip').map(missingResult);
  if (request.dryRun) return { ...report, results: [], confirmed: false };
  if (startable.length === 0) return { ...report, results: skipped, confirmed: true };
  if (!(await request.confirm(plan))) return { ...report, results: [], confirmed: false };

  const results = await inSlots(startable, request, async (item, startedAt) => {
    request.onResult?.({ session: item.session, phase: 'starting' });
    let result: RestoreResult;
    try {
      const resumed = await resumeSession({ ...context, progress: () => undefined, say: () => undefined }, item.session, { missing: request.freshIfMissing ? 'fresh' : 'refuse' });
      result = { session: item.session, outcome: 'restored', tier: resumed.tier, conversation_id: resumed.conversationId, started_at: iso(startedAt), ready_at: iso(Date.now()), message: resumed.note };
    } catch (error) {
      const outcome = error instanceof ConversationMissingError ? 'missing' : 'failed';
      result = { session: item.session, outcome, tier: null, conversation_id: item.conversation.id, started_at: iso(startedAt), ready_at: iso(Date.now()), message: errorMessage(error) };
    }
    request.onResult?.(result);
    return result;
  });
  // In plan order (registry order), started or not.
  const bySession = new Map([...results, ...skipped].map((result) => [result.session, result]));
  return { ...report, results: plan.map((item) => bySession.get(item.session)!), confirmed: true };
}

async function planOne(context: LifecycleContext, entry: RegistryEntry, lost: ServerLoss, all: readonly RegistryEntry[], freshIfMissing: boolean): Promise<RestorePlanItem> {
  const launcher = launcherFor(entry.agent);
  const base = startArgv(entry, launcher.command);
  const recorded = recordedConversation(entry) ?? null;
  const common = { session: entry.name, agent: entry.agent, workspace: entry.workspace, tmux_server: entry.tmux_server ?? 'mam', lost, status: entry.status, env: entry.start_env ?? {} };
  try {
    const chosen = await chooseConversation(context, entry, all, freshIfMissing ? 'fresh' : 'refuse');
    const resumeArgs = 'tier' in chosen ? launcher.resumeArgs(chosen.id) : undefined;
    if ('tier' in chosen && resumeArgs) {
      const how = chosen.tier === 'recorded-id' ? 'its recorded conversation' : 'the newest conversation in its workspace (none was recorded)';
      return { ...common, conversation: { id: chosen.id, state: 'found' }, action: 'resume', argv: [...base, ...resumeArgs], note: `resumes ${how}, ${chosen.id}` };
    }
    const why = 'tier' in chosen ? `${entry.agent} cannot resume by id` : chosen.why;
    return { ...common, conversation: { id: recorded, state: recorded && !('tier' in chosen) ? 'missing' : 'none' }, action: 'fresh', argv: base, note: `starts fresh: ${why}` };
  } catch (error) {
    if (!(error instanceof ConversationMissingError)) throw error;
    return { ...common, conversation: { id: recorded, state: 'missing' }, action: 'skip', argv: base, note: `not started: the files of conversation ${recorded} are gone (--fresh-if-missing starts it fresh)` };
  }
}

function missingResult(item: RestorePlanItem): RestoreResult {
  return { session: item.session, outcome: 'missing', tier: null, conversation_id: item.conversation.id, started_at: null, ready_at: null, message: item.note };
}

/**
 * Runs `start` on each item in order: at most `parallel` at once, each start at least `staggerMs` after the one
 * before (`at`: when its slot opened); a slot frees when its start resolves (the agent showed its prompt, or failed).
 */
export async function inSlots<T, R>(items: readonly T[], limits: { readonly parallel: number; readonly staggerMs: number }, start: (item: T, at: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  const running = new Set<Promise<void>>();
  let lastStart: number | undefined;
  for (const [index, item] of items.entries()) {
    while (running.size >= limits.parallel) await Promise.race(running);
    if (lastStart !== undefined) {
      const due = lastStart + limits.staggerMs;
      // A timer may fire a millisecond before the wall clock says it is due: wait again until it is.
      while (Date.now() < due) await sleep(due - Date.now());
    }
    lastStart = Date.now();
    const task: Promise<void> = start(item, lastStart)
      .then((result) => {
        results[index] = result;
      })
      .finally(() => running.delete(task));
    running.add(task);
  }
  await Promise.all(running);
  return results;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** One plan line for people: what starts, where, and why. */
export function describePlanItem(item: RestorePlanItem): string {
  const what = item.action === 'skip' ? 'skip' : `${joinWords(item.argv)}`;
  return `${item.session} (${item.agent}, lost at ${item.lost === 'reboot' ? 'a reboot' : 'a tmux crash'}): ${item.note}\n    ${item.action === 'skip' ? '' : `in ${item.workspace}: `}${what}`;
}
