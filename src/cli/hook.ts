import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';
import { applyHook, type HookPayload } from '../status/derive.js';
import { FACT_ID_PATTERN } from '../status/fact-check.js';
import { statusDir, updateFacts } from '../status/store.js';
import { homeDir } from '../util/home.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { agentAncestor } from '../proc/tree.js';
import { ensureWatcher } from '../status/watcher-pid.js';
import { paneFromEnv } from '../tmux/pane-address.js';
import { parseFlags, type CliContext, type Command } from './command.js';
import { readHookPayload } from './hook-stdin.js';

/**
 * `mam hook`: one agent hook payload on stdin → the agent's fact file. A hook must never make the agent
 * wait or fail: everything is bounded in time, every error is only logged (to `<status dir>/hook-errors.log`),
 * and the exit status is always 0.
 *
 * It runs on every agent event, so its start-up is its cost (bench/hook.bench.ts: target ≤ 1.5× a bare
 * `node -e 0`). Keep the static imports below free of zod, yaml, the registry and the agent modules; what only
 * some events need (the registry, on SessionStart in a session mam started) is imported where it is used.
 */
/** stdin silent this long without a whole payload: an agent that never closes it. */
const STDIN_IDLE_MS = 2_000;
/** Still arriving after this long: given up (a 64 MB payload on a busy machine takes a few seconds). */
const STDIN_MAX_MS = 10_000;
/** Everything after the payload is read: parse, fact file, watcher check. */
const TOTAL_LIMIT_MS = 5_000;

export const hookCommand: Command = {
  help: `Usage: mam hook [--agent claude|codex|gemini]

Reads one hook payload (JSON) on stdin and records what it means in the session's fact files under
\${MAM_STATUS_DIR:-~/.cache/mam/status}: working, needs_approval or waiting, per agent (main and subagents).
A SessionStart in a session mam started (MAM_SESSION set) also records the conversation id in the registry
(MAM_REGISTRY), which follows /clear and resumes that rotate it. Always exits 0; errors go to hook-errors.log,
including a payload over 64 MB or cut short, which is not recorded.
Install it with \`mam hooks install\`.`,
  async run(context) {
    const dir = statusDir(context.env, homeDir(context.env));
    // Restarted once the payload is in: how long reading takes grows with its size, the rest barely does.
    let deadline = setTimeout(() => process.exit(0), STDIN_MAX_MS + TOTAL_LIMIT_MS);
    deadline.unref();
    try {
      const text = await readHookPayload(process.stdin, { idleMs: STDIN_IDLE_MS, maxMs: STDIN_MAX_MS });
      clearTimeout(deadline);
      deadline = setTimeout(() => process.exit(0), TOTAL_LIMIT_MS);
      deadline.unref();
      await record(context, dir, agentFlag(context.argv), text);
    } catch (error) {
      logError(dir, context.stderr, errorMessage(error));
    }
    return 0;
  },
};

/**
 * `--agent X`, the form every installed hook uses, read directly: util.parseArgs costs ~1 ms to load, on every
 * agent event. Anything else goes through parseFlags, for its usage errors.
 */
function agentFlag(argv: readonly string[]): string {
  if (argv.length === 0) return 'claude';
  if (argv.length === 2 && argv[0] === '--agent' && argv[1] && !argv[1].startsWith('-')) return argv[1];
  return parseFlags('hook', argv, { agent: { type: 'string' } }).values.agent ?? 'claude';
}

async function record(context: CliContext, dir: string, agent: string, text: string): Promise<void> {
  const payload = parseJsonOrUndefined(text);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new Error('hook payload is not a JSON object');
  const hook = payload as HookPayload;
  const sessionId = typeof hook['session_id'] === 'string' ? hook['session_id'] : '';
  if (!FACT_ID_PATTERN.test(sessionId)) throw new Error(`hook payload has no usable session_id (${JSON.stringify(hook['session_id'])})`);
  const mamSession = context.env['MAM_SESSION'] || null;
  const agentProcess = agentAncestor(process.ppid);
  const transcript = typeof hook['transcript_path'] === 'string' ? hook['transcript_path'] : undefined;
  const transcriptSize = transcript ? (statSync(transcript, { throwIfNoEntry: false })?.size ?? null) : null;
  let started: { sessionId: string; source: string } | undefined;
  await updateFacts(
    dir,
    sessionId,
    (facts) => {
      const applied = applyHook(facts, hook, { now: Date.now(), agent, mamSession, pid: agentProcess?.pid ?? process.ppid, pidStart: agentProcess?.start ?? null, transcriptSize, pane: paneFromEnv(context.env) ?? null });
      started = applied.started;
      return applied;
    },
    2_000,
  );
  // What no hook will report (a rejection, an interrupt, an approval, the agent dying) is the watcher's job.
  if (hook['hook_event_name'] !== 'SessionEnd') await ensureWatcher(dir, [process.execPath, fileURLToPath(new URL('./main.js', import.meta.url))], context.env);
  if (started && mamSession) await recordConversation(context.env, mamSession, agent, started.sessionId);
}

/** The registry entry mam started this agent for learns its conversation id at once — and again after /clear. */
async function recordConversation(env: NodeJS.ProcessEnv, session: string, agent: string, conversationId: string): Promise<void> {
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
    { timeoutMs: 2_000 },
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
