import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hookTimeouts, type HookTimeouts } from '../config.js';
import { agentAncestor, type ProcessId } from '../proc/tree.js';
import { paneFromEnv, type PaneAddress } from '../tmux/pane-address.js';
import { errorMessage } from '../util/errors.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { FACT_ID_PATTERN } from './check.js';
import type { HookEventAlias } from '../agents/types.js';
import { applyHook, isHookEvent, type HookPayload } from './derive.js';
import { HookPayloadError, readHookPayload } from './hook-stdin.js';
import { updateFacts } from './store.js';
import { ensureWatcher } from './watcher-pid.js';

/**
 * One agent hook event (`mam hook`): the payload on stdin → the agent's fact files, the watcher started if none
 * runs, and — on SessionStart in a session mam started — the conversation id in the registry. A hook must never
 * make the agent wait or fail: everything is bounded in time, and every error is only logged (to
 * `<status dir>/hook-errors.log`).
 *
 * It runs on every agent event, so its start-up is its cost (bench/hook.bench.ts: target ≤ 1.5× a bare
 * `node -e 0`). Keep the static imports above free of zod, yaml, the registry and the agent modules; what only
 * some events need (the registry, on SessionStart in a session mam started) is imported where it is used.
 *
 * Its time bounds come from src/config.ts `hookTimeouts` (MAM_HOOK_TIMEOUT scales them all).
 */
export interface HookRun {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadableStream & { destroy(): void };
  readonly stderr: NodeJS.WritableStream;
  /** The status directory (src/config.ts `statusDir`). */
  readonly dir: string;
  readonly agent: string;
}

/** Records one event; never throws (problems go to hook-errors.log) and never outlives its time bounds. */
export async function runHook(run: HookRun): Promise<void> {
  const { dir } = run;
  const limits = hookTimeouts(run.env);
  // Restarted once the payload is in: how long reading takes grows with its size, the rest barely does.
  let deadline = setTimeout(() => process.exit(0), limits.stdinMaxMs + limits.recordMs);
  deadline.unref();
  try {
    const text = await readHookPayload(run.stdin, { idleMs: limits.stdinIdleMs, maxMs: limits.stdinMaxMs });
    clearTimeout(deadline);
    deadline = setTimeout(() => process.exit(0), limits.recordMs);
    deadline.unref();
    await record(run.env, dir, run.agent, text, limits);
  } catch (error) {
    logError(dir, run.stderr, errorMessage(error));
  }
}

async function record(env: NodeJS.ProcessEnv, dir: string, agent: string, text: string, limits: HookTimeouts): Promise<void> {
  const recorded = await recordHook(dir, text, { ...hookOrigin(env, agent, agentAncestor(process.ppid), process.ppid), now: Date.now() }, limits.lockMs);
  // What no hook will report (a rejection, an interrupt, an approval, the agent dying) is the watcher's job; an ended
  // session (SessionEnd, by whatever name the agent gives it) has none left.
  if (!recorded.ended) await ensureWatcher(dir, [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))], env);
  if (recorded.started && recorded.origin.mamSession) await recordConversation(recorded.origin.registry, recorded.origin.mamSession, agent, recorded.started.sessionId, limits.lockMs);
}

/**
 * Where one hook call came from: what `mam hook` reads from its own environment and process tree, and what the fast
 * hook (src/facts/mam-hook.sh) writes into its spool file's header for the watcher (src/facts/spool.ts).
 */
export interface HookOrigin {
  readonly agent: string;
  /** The registry entry mam started this agent for (`MAM_SESSION`), and the registry it is in (`MAM_REGISTRY`). */
  readonly mamSession: string | null;
  readonly registry: string | undefined;
  readonly pane: PaneAddress | null;
  /** The agent: the first process above the hook that is not a shell; undefined when it could not be read. */
  readonly agentProcess: ProcessId | undefined;
  /** The hook's parent, taken for the agent when agentProcess is unknown. */
  readonly parentPid: number;
  /** When the hook ran (epoch ms). */
  readonly now: number;
}

/** The origin of a hook with environment `env` (all but the time). */
export function hookOrigin(env: NodeJS.ProcessEnv, agent: string, agentProcess: ProcessId | undefined, parentPid: number): Omit<HookOrigin, 'now'> {
  return { agent, mamSession: env['MAM_SESSION'] || null, registry: env['MAM_REGISTRY'] || undefined, pane: paneFromEnv(env) ?? null, agentProcess, parentPid };
}

export interface Recorded {
  readonly sessionId: string;
  readonly origin: HookOrigin;
  readonly ended: boolean;
  /** A SessionStart: the conversation id the registry entry (origin.mamSession) should record. */
  readonly started: { readonly sessionId: string; readonly source: string } | undefined;
}

/**
 * One payload (its JSON text) → the session's fact files, under the session's lock: the derivation both hooks share
 * (`mam hook` records at once; the fast hook's payloads are recorded by the watcher, src/facts/spool.ts). Throws
 * when the payload is not a JSON object with a usable session_id, or the lock is not had within `lockMs`.
 */
export async function recordHook(dir: string, text: string, origin: HookOrigin, lockMs: number): Promise<Recorded> {
  const payload = parseJsonOrUndefined(text);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new HookPayloadError('hook payload is not a JSON object');
  const hook = payload as HookPayload;
  const sessionId = typeof hook['session_id'] === 'string' ? hook['session_id'] : '';
  if (!FACT_ID_PATTERN.test(sessionId)) throw new HookPayloadError(`hook payload has no usable session_id (${JSON.stringify(hook['session_id'])})`);
  const { agent, agentProcess } = origin;
  const transcript = typeof hook['transcript_path'] === 'string' ? hook['transcript_path'] : undefined;
  const transcriptSize = transcript ? (statSync(transcript, { throwIfNoEntry: false })?.size ?? null) : null;
  const eventAliases = await hookEventAliases(agent, typeof hook['hook_event_name'] === 'string' ? hook['hook_event_name'] : '');
  let started: Recorded['started'];
  let ended = false;
  await updateFacts(
    dir,
    sessionId,
    (facts) => {
      const applied = applyHook(facts, hook, { now: origin.now, agent, mamSession: origin.mamSession, pid: agentProcess?.pid ?? origin.parentPid, pidStart: agentProcess?.start ?? null, transcriptSize, pane: origin.pane, eventAliases, registry: origin.registry ?? null });
      started = applied.started;
      ended = applied.ended;
      return applied;
    },
    lockMs,
  );
  return { sessionId, origin, ended, started };
}

/**
 * Each agent's own hook event names, by agent id. They are declared in the agent's module (`hooks.eventAliases` in
 * src/agents/<agent>.ts), but loading the agent modules and what they import would cost every event
 * (bench/hook.bench.ts), so `mam-hook`, what installed hooks run, has them built in: scripts/bundle-hook.mjs reads
 * them from the built agent table and defines this constant.
 */
declare const MAM_HOOK_EVENT_ALIASES: Readonly<Record<string, readonly HookEventAlias[]>> | undefined;

/**
 * The aliases `agent` declares, for a payload reporting `event`. Unbundled (`mam hook` through main.js, tests), the
 * agent modules are loaded, but only for an event mam does not know by name: an agent's aliases never rename one
 * it knows (test/facts/hook-events.test.ts), so Claude's and Codex's events never pay for it.
 */
export async function hookEventAliases(agent: string, event: string): Promise<readonly HookEventAlias[]> {
  if (typeof MAM_HOOK_EVENT_ALIASES !== 'undefined') return Object.hasOwn(MAM_HOOK_EVENT_ALIASES, agent) ? (MAM_HOOK_EVENT_ALIASES[agent] ?? []) : [];
  if (isHookEvent(event)) return [];
  const { agentKind } = await import('../agents/index.js');
  return agentKind(agent)?.hooks?.eventAliases ?? [];
}

/** The registry entry mam started this agent for learns its conversation id at once — and again after /clear. */
export async function recordConversation(registry: string | undefined, session: string, agent: string, conversationId: string, lockMs: number): Promise<void> {
  if (!registry) return;
  const [{ agentKind }, { setEntryFields }, { updateRegistry }] = await Promise.all([import('../agents/index.js'), import('../registry/document.js'), import('../registry/store.js')]);
  const kind = agentKind(agent);
  if (!kind) return;
  await updateRegistry(
    registry,
    (current) => {
      const entry = current.entries.find((candidate) => candidate.name === session);
      if (!entry || entry.agent !== agent || entry[kind.conversationIdField] === conversationId) return { changed: false, result: undefined };
      return { changed: setEntryFields(current.document, session, { [kind.conversationIdField]: conversationId }), result: undefined };
    },
    { timeoutMs: lockMs },
  );
}

/**
 * A hook's problems go to `<status dir>/hook-errors.log`; when that directory cannot be written either, to
 * stderr, which agents show only in their debug output — the hook still exits 0.
 */
export function logError(dir: string, stderr: NodeJS.WritableStream, message: string): void {
  const line = `${new Date().toISOString()} ${message}\n`;
  try {
    mkdirSync(dir, { recursive: true });
    appendFileSync(path.join(dir, 'hook-errors.log'), line);
  } catch (error) {
    stderr.write(`mam hook: ${message} (and ${path.join(dir, 'hook-errors.log')} is not writable: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})\n`);
  }
}
