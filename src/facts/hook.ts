import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hookTimeouts, type HookTimeouts } from '../config.js';
import { agentAncestor } from '../proc/tree.js';
import { paneFromEnv } from '../tmux/pane-address.js';
import { errorMessage } from '../util/errors.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { FACT_ID_PATTERN } from './check.js';
import type { HookEventAlias } from '../agents/types.js';
import { applyHook, isHookEvent, type HookPayload } from './derive.js';
import { readHookPayload } from './hook-stdin.js';
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
  const payload = parseJsonOrUndefined(text);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new Error('hook payload is not a JSON object');
  const hook = payload as HookPayload;
  const sessionId = typeof hook['session_id'] === 'string' ? hook['session_id'] : '';
  if (!FACT_ID_PATTERN.test(sessionId)) throw new Error(`hook payload has no usable session_id (${JSON.stringify(hook['session_id'])})`);
  const mamSession = env['MAM_SESSION'] || null;
  const agentProcess = agentAncestor(process.ppid);
  const transcript = typeof hook['transcript_path'] === 'string' ? hook['transcript_path'] : undefined;
  const transcriptSize = transcript ? (statSync(transcript, { throwIfNoEntry: false })?.size ?? null) : null;
  const eventAliases = await hookEventAliases(agent, typeof hook['hook_event_name'] === 'string' ? hook['hook_event_name'] : '');
  let started: { sessionId: string; source: string } | undefined;
  let ended = false;
  await updateFacts(
    dir,
    sessionId,
    (facts) => {
      const applied = applyHook(facts, hook, { now: Date.now(), agent, mamSession, pid: agentProcess?.pid ?? process.ppid, pidStart: agentProcess?.start ?? null, transcriptSize, pane: paneFromEnv(env) ?? null, eventAliases, registry: env['MAM_REGISTRY'] || null });
      started = applied.started;
      ended = applied.ended;
      return applied;
    },
    limits.lockMs,
  );
  // What no hook will report (a rejection, an interrupt, an approval, the agent dying) is the watcher's job; an ended
  // session (SessionEnd, by whatever name the agent gives it) has none left.
  if (!ended) await ensureWatcher(dir, [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))], env);
  if (started && mamSession) await recordConversation(env, mamSession, agent, started.sessionId, limits.lockMs);
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
async function recordConversation(env: NodeJS.ProcessEnv, session: string, agent: string, conversationId: string, lockMs: number): Promise<void> {
  const registry = env['MAM_REGISTRY'];
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
function logError(dir: string, stderr: NodeJS.WritableStream, message: string): void {
  const line = `${new Date().toISOString()} ${message}\n`;
  try {
    mkdirSync(dir, { recursive: true });
    appendFileSync(path.join(dir, 'hook-errors.log'), line);
  } catch (error) {
    stderr.write(`mam hook: ${message} (and ${path.join(dir, 'hook-errors.log')} is not writable: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})\n`);
  }
}
