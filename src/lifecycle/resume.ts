import { agentKind, artifactRoots, launcherFor, type ArtifactQuery } from '../agents/index.js';
import { homeDir } from '../config.js';
import { MamError } from '../util/errors.js';
import { setEntryFields, type EntryFields } from '../registry/document.js';
import { isoSeconds, timestampMs, type RegistryEntry } from '../registry/schema.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { hostBoot } from '../proc/boot.js';
import { recordedIds } from '../reconcile/reconcile.js';
import { runFields } from '../reconcile/server-loss.js';
import { killSession, sessionPane } from '../tmux/session.js';
import { joinWords, splitWords } from '../util/shell-words.js';
import { attachHint, newSessionServer, type LifecycleContext } from './context.js';
import { refuseOwnedElsewhere, refuseStarting, settleStart, startingFields } from './ownership.js';
import { startAgent, type Started } from './start.js';

/**
 * `mam resume`: start the entry's agent again with its stored start command, in the conversation it
 * was in. Tier 1 is the recorded id (if its artifact still exists); tier 2 the newest conversation in
 * the workspace that no other entry records; otherwise, or when the agent says the conversation is
 * gone, a fresh one — and the user is told which.
 */
export type ResumeTier = 'recorded-id' | 'newest-artifact' | 'fresh';

export interface ResumeResult {
  readonly tier: ResumeTier;
  readonly conversationId: string | null;
  readonly argv: readonly string[];
  readonly note: string;
}

const START_TIMEOUT_MS = 30_000;

export interface ResumeOptions {
  /**
   * When the recorded conversation's files are gone (or the agent says so): `fallback` (`mam resume`) tries the
   * newest unclaimed conversation in the workspace, else a fresh one; `refuse` starts nothing and throws
   * ConversationMissingError (`mam restore`); `fresh` starts a fresh one (`mam restore --fresh-if-missing`).
   */
  readonly missing?: 'fallback' | 'refuse' | 'fresh';
}

/** The recorded conversation cannot be resumed and the caller did not allow a fresh one; nothing was started. */
export class ConversationMissingError extends MamError {
  constructor(
    readonly session: string,
    readonly conversationId: string,
    why: string,
  ) {
    super(`${session}: conversation ${conversationId} cannot be resumed (${why}); nothing was started (--fresh-if-missing starts it fresh)`);
  }
}

export async function resumeSession(context: LifecycleContext, session: string, options: ResumeOptions = {}): Promise<ResumeResult> {
  const missing = options.missing ?? 'fallback';
  const registry = await readRegistry(context.registryFile);
  const entry = registry.entries.find((candidate) => candidate.name === session);
  if (!entry) {
    await refuseOwnedElsewhere(context, newSessionServer(undefined, context.env), session);
    throw new MamError(`${session} is not in the registry ${context.registryFile}; start a new one with mam create`);
  }
  const server = entry.tmux_server ?? 'mam';
  refuseStarting(entry, 'resume it');
  await refuseOwnedElsewhere(context, server, entry.name);
  const existing = await sessionPane(server, entry.name, context.tmux);
  if (entry.status === 'running' && existing && !existing.dead) {
    throw new MamError(`${session} is already running (${attachHint(session)})`);
  }
  // A session whose agent died with its pane kept (remain-on-exit, sessions mam starts) is gone in all but name:
  // close it, or the new session could not take the name.
  if (existing?.dead) await killSession(server, entry.name, context.tmux);

  const launcher = launcherFor(entry.agent);
  const kind = agentKind(entry.agent);
  const base = startArgv(entry, launcher.command);
  const plan = await chooseConversation(context, entry, registry.entries, missing);
  const resumeArgs = 'tier' in plan ? launcher.resumeArgs(plan.id) : undefined;
  let argv = resumeArgs ? [...base, ...resumeArgs] : base;
  let tier: ResumeTier = 'tier' in plan && resumeArgs ? plan.tier : 'fresh';
  let note = 'tier' in plan ? (resumeArgs ? `resumed conversation ${plan.id} (${plan.tier})` : `${entry.agent} cannot resume by id; started fresh`) : `no conversation to resume (${plan.why}); started fresh`;

  // Own the entry before the session can exist (status starting, under the lock): a second resume, a stop or a
  // delete meanwhile is refused, and a pass that sees the new session leaves it to us.
  const previous = entry.status;
  await updateRegistry(
    context.registryFile,
    (fresh) => {
      const now = fresh.entries.find((candidate) => candidate.name === entry.name);
      if (!now) throw new MamError(`${entry.name} disappeared from the registry meanwhile; nothing was started`);
      refuseStarting(now, 'resume it');
      if (now.status !== previous) throw new MamError(`${entry.name} became ${now.status} meanwhile; nothing was started`);
      return { changed: setEntryFields(fresh.document, entry.name, startingFields(context.now())), result: undefined };
    },
    context.lock,
  );
  try {
    const env = entry.start_env ?? undefined;
    let started: Started = await startAgent(context, { server, name: entry.name, cwd: entry.workspace, argv, launcher, env }, START_TIMEOUT_MS);
    if (resumeArgs && (started.outcome === 'conversation-gone' || started.outcome === 'exited')) {
      // The agent itself says the conversation cannot be resumed: start fresh, and say so — unless not allowed to.
      await killSession(server, entry.name, context.tmux);
      const why = started.outcome === 'exited' ? 'it exited at once' : 'it says the conversation is gone';
      if (missing === 'refuse') throw new ConversationMissingError(entry.name, plan.id ?? '', `${launcher.command} ${why}`);
      note = `${launcher.command} could not resume conversation ${plan.id} (${why}); started fresh`;
      argv = base;
      tier = 'fresh';
      started = await startAgent(context, { server, name: entry.name, cwd: entry.workspace, argv, launcher, env }, START_TIMEOUT_MS);
    }
    if (started.outcome === 'exited' || !started.pane) {
      throw new MamError(`${launcher.command} exited right after it started in ${entry.workspace}; run \`${joinWords(argv)}\` there by hand to see why. The registry is unchanged`);
    }

    const conversationId = tier === 'fresh' || !('tier' in plan) ? null : plan.id;
    const fields: EntryFields = {
      status: 'running',
      tmux_server: server,
      pane: { pid: started.pane.pid, cmd: started.pane.command, cwd: started.pane.cwd },
      resumed_at: isoSeconds(context.now()),
      resumable: null,
      ...runFields(hostBoot(), started.pane.server),
      ...(kind ? { [kind.conversationIdField]: conversationId } : {}),
    };
    try {
      // Back, so no longer lost with a server: `mam restore` will not list it again.
      await settleStart(context, entry.name, { fields, unset: ['tmux_server_lost'] });
    } catch (error) {
      await killSession(server, entry.name, context.tmux);
      throw error;
    }
    return { tier, conversationId, argv, note };
  } catch (error) {
    // Whatever went wrong, the entry goes back to what it was (settleStart refuses if it is no longer ours).
    await settleStart(context, entry.name, { fields: { status: previous } }).catch(() => undefined);
    throw error;
  }
}

/**
 * Where the entry's agent keeps its files: as its recorded start environment says (`start_env`: HOME, CLAUDE_CONFIG_DIR,
 * CODEX_HOME, …), over this process's — the agent is started with those values, so its conversations are there
 * even when mam runs from another shell (cron after a reboot).
 */
export function entryArtifacts(context: LifecycleContext, entry: RegistryEntry): ArtifactQuery {
  if (!entry.start_env || Object.keys(entry.start_env).length === 0) return context.artifacts;
  const env = { ...context.env, ...entry.start_env };
  return { roots: artifactRoots(env, homeDir(env)), fs: context.artifacts.fs };
}

/** The conversation id the entry records for its agent (its own field, else the older agent_identities). */
export function recordedConversation(entry: RegistryEntry): string | undefined {
  const kind = agentKind(entry.agent);
  if (!kind) return undefined;
  return entry[kind.conversationIdField] ?? entry.agent_identities?.[kind.id]?.session_id ?? undefined;
}

/** The stored command as an argv: `start_argv`, else the `start_command` line, else the bare agent. */
export function startArgv(entry: RegistryEntry, command: string): string[] {
  if (entry.start_argv?.length) return [...entry.start_argv];
  if (entry.start_command) {
    try {
      const words = splitWords(entry.start_command);
      if (words.length > 0) return words;
    } catch (error) {
      throw new MamError(`${entry.name}: its start_command cannot be read (${(error as Error).message}); fix it in the registry`);
    }
  }
  return [command];
}

export async function chooseConversation(
  context: LifecycleContext,
  entry: RegistryEntry,
  all: readonly RegistryEntry[],
  missing: NonNullable<ResumeOptions['missing']>,
): Promise<{ id: string; tier: Exclude<ResumeTier, 'fresh'> } | { id: undefined; why: string }> {
  const kind = agentKind(entry.agent);
  if (!kind) return { id: undefined, why: `${entry.agent} is not an agent mam can resume` };
  const recorded = recordedConversation(entry);
  context.artifacts.fs.newPass();
  const artifacts = entryArtifacts(context, entry);
  if (recorded && (await kind.locate(recorded, entry.workspace, artifacts))) return { id: recorded, tier: 'recorded-id' };
  if (recorded && missing === 'refuse') throw new ConversationMissingError(entry.name, recorded, `its files are gone from ${kind.artifactRoot(context.artifacts.roots)}`);
  if (recorded && missing === 'fresh') return { id: undefined, why: `the artifact of ${recorded} is gone` };
  const others = new Set(all.filter((other) => other.name !== entry.name).flatMap(recordedIds));
  const since = timestampMs(entry.created_at);
  const newest = (await kind.conversations(entry.workspace, artifacts, since)).find((conversation) => !others.has(conversation.id));
  if (newest) return { id: newest.id, tier: 'newest-artifact' };
  return { id: undefined, why: recorded ? `the artifact of ${recorded} is gone` : 'none was recorded and none is on disk' };
}
