import { mkdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { agentKind } from '../agents/index.js';
import type { Logger } from '../util/log.js';
import { commandLine, isAlive, processId, processTree, signalable } from '../proc/tree.js';
import { capturePaneAt } from '../tmux/pane-address.js';
import { sessionStatus, type Facts } from '../facts/derive.js';
import type { AgentStatus } from '../facts/schema.js';
import { classifyPane } from './pane.js';
import { commandRunning, pendingCommands, resolveFacts, SCREEN_CHECK_QUIET_MS, screenCheckWanted, type Observation } from './resolve.js';
import { listStatusDir, readFacts, updateFacts } from '../facts/store.js';
import { consumeSpool, conversationWriter, pendingSpool, spoolDir, sweepSpoolTemps } from '../facts/spool.js';
import { parseTranscriptChunk, type TranscriptEvent } from './transcript.js';

/**
 * `mam watch`: resolves what no hook reports (docs/status.md, 'What no hook reports'; the gaps of the design it
 * comes from, closed here, are listed under 'Fact files').
 * Level-triggered like the reconcile loop: a change to a fact file or a transcript only marks its session
 * dirty; resolving a session re-reads its facts, reads the transcripts from the stored byte offsets,
 * checks the agent's pid and — while an approval is pending — its process tree, and writes the outcome
 * under the session's lock. A slow sweep covers missed notifications; the process-tree poll runs only
 * while some session waits on an approval.
 */
export interface WatchOptions {
  readonly dir: string;
  readonly log: Logger;
  /** Exit after this long with no session to watch (the hooks start a new watcher when needed). */
  readonly idleExitMs: number;
  /** The safety-net pass over every session: pid liveness, transcripts without notifications. */
  readonly sweepMs: number;
  /** How often a pending approval's command is looked for in the agent's process tree. */
  readonly approvalPollMs: number;
  readonly signal?: AbortSignal;
  /** The tmux executable for reading a pane (`MAM_TMUX_BIN`). */
  readonly tmuxBin?: string;
  /**
   * Told whenever a session's facts change (by a hook or by the watcher); `undefined` when it ended, and then why:
   * `died` when the watcher found its agent process gone, `ended` otherwise (SessionEnd, /clear, files removed).
   */
  readonly onChange?: (sessionId: string, facts: Facts | undefined, ending?: 'ended' | 'died') => void | Promise<void>;
  /** Told once, after the first look at every session: the ones alive now (to retire what ended meanwhile). */
  readonly onReady?: (sessionIds: readonly string[]) => void | Promise<void>;
  /** How long recording a payload of the fast hook's spool waits for a session's lock, or the registry's. */
  readonly hookLockMs?: number;
  /**
   * Asked when the watcher has been idle for idleExitMs with nothing spooled: true lets it exit. The caller gives up
   * the pid file and then looks at the spool again (src/cli/watch.ts): a fast hook spools first and looks for a
   * watcher after, so a payload spooled meanwhile is never left without one.
   */
  readonly mayExitIdle?: () => boolean;
}

/** Reading more than this in one go would stall every other session behind a huge backlog. */
const MAX_READ_BYTES = 4 * 1024 * 1024;
const FULL_SWEEP_EVERY = 60;
/** A silent turn's screen is read again after this while it shows the agent busy, doubling up to the max. */
const SCREEN_GAP_MS = 2_000;
const SCREEN_MAX_GAP_MS = 8_000;
/** A screen that looked idle is read once more this soon: two reads must agree before the turn is ended. */
const SCREEN_CONFIRM_MS = 1_000;
const FACT_FILE = /^([A-Za-z0-9][A-Za-z0-9_-]{0,127})\.(?:session|agent\.[A-Za-z0-9_-]+)\.json$/;

interface Tracked {
  /** Transcript path → the byte offset read up to. */
  readonly offsets: Map<string, number>;
  readonly watchers: Map<string, FSWatcher>;
  /** What the last resolve saw, to tell onChange only about changes. */
  last: string;
  pendingApproval: boolean;
  /** The agent process, as the facts last named it, for the cheap liveness check of the sweep. */
  agent: { pid: number; start: number | null } | undefined;
  /**
   * Per tool waiting for approval: the processes already under the agent when the watcher first saw it wait
   * (MCP servers, language servers, background jobs). Only a process started since can be the approved command.
   */
  readonly before: Map<string, Set<string>>;
  /** When the main transcript last grew (epoch ms); with the newest hook, how long the turn has been silent. */
  grewAt: number;
  /** While the main agent is in a silent turn: when its screen is next read, and what the last read showed. */
  screen: { dueAt: number; gapMs: number; last: AgentStatus | undefined; quietSince: number } | undefined;
}

export async function runWatcher(options: WatchOptions): Promise<'idle' | 'stopped'> {
  const { dir, log } = options;
  const tracked = new Map<string, Tracked>();
  const dirty = new Set<string>();
  let wake: (() => void) | undefined;
  const enqueue = (sessionId: string): void => {
    dirty.add(sessionId);
    wake?.();
  };

  // The fast hook's payloads (src/facts/spool.ts): recorded here, in the order the hooks ran, before anything else.
  const spool = spoolDir(dir);
  const hookLockMs = options.hookLockMs ?? 2_000;
  const conversations = conversationWriter(dir, hookLockMs);
  let spooled = true;
  let draining: Promise<void> | undefined;
  /**
   * Records what is spooled, once at a time. Started from the spool's change notification as well as from the loop,
   * so a payload is recorded (and `needs approval` visible) even while the loop awaits a slow look at another session.
   */
  const takeSpool = (): Promise<void> => {
    draining ??= (async () => {
      while (spooled) {
        spooled = false;
        await consumeSpool({
          dir,
          lockMs: hookLockMs,
          recorded: (recorded) => {
            enqueue(recorded.sessionId);
            conversations.add(recorded);
          },
          warn: (message, error) => log.warn({ err: error }, message),
        });
      }
    })().finally(() => {
      draining = undefined;
    });
    return draining;
  };
  const pokeSpool = (): void => {
    spooled = true;
    void takeSpool().catch((error: unknown) => log.warn({ err: error }, 'reading the hook spool failed; retried on the next sweep'));
    wake?.();
  };

  const forget = (sessionId: string): void => {
    const entry = tracked.get(sessionId);
    if (!entry) return;
    for (const watcher of entry.watchers.values()) watcher.close();
    tracked.delete(sessionId);
  };

  const scan = async (): Promise<void> => {
    const names = await listStatusDir(dir);
    const present = new Set(names.flatMap((name) => (name.endsWith('.session.json') ? [name.slice(0, -'.session.json'.length)] : [])));
    for (const sessionId of present) if (!tracked.has(sessionId)) enqueue(sessionId);
    for (const sessionId of tracked.keys()) if (!present.has(sessionId)) enqueue(sessionId);
  };

  const watchTranscript = (sessionId: string, entry: Tracked, file: string): void => {
    if (entry.watchers.has(file)) return;
    try {
      const watcher = watch(file, { persistent: false }, () => enqueue(sessionId));
      watcher.on('error', () => {
        watcher.close();
        entry.watchers.delete(file);
      });
      entry.watchers.set(file, watcher);
    } catch {
      // Not there yet: the sweep reads it once it is.
    }
  };

  const resolve = async (sessionId: string, names?: readonly string[]): Promise<void> => {
    const facts = await readFacts(dir, sessionId, names);
    if (!facts.session) {
      if (tracked.has(sessionId)) {
        forget(sessionId);
        await options.onChange?.(sessionId, undefined, 'ended');
      }
      return;
    }
    let entry = tracked.get(sessionId);
    if (!entry) {
      entry = { offsets: new Map(), watchers: new Map(), last: '', pendingApproval: false, agent: undefined, before: new Map(), grewAt: 0, screen: undefined };
      tracked.set(sessionId, entry);
    }
    const session = facts.session;
    entry.agent = session.pid === null ? undefined : { pid: session.pid, start: session.pid_start };
    const alive = session.pid === null ? undefined : session.pid_start !== null ? isAlive({ pid: session.pid, start: session.pid_start }) : processId(session.pid) !== undefined;

    const transcript: Record<string, readonly TranscriptEvent[]> = {};
    const advanced = new Map<string, number>();
    const files = transcriptsOf(facts);
    // A subagent that finished takes its transcript's watch and offset along.
    const wanted = new Set(files.map(([, file]) => file));
    for (const [file, watcher] of entry.watchers) {
      if (wanted.has(file)) continue;
      watcher.close();
      entry.watchers.delete(file);
    }
    for (const file of entry.offsets.keys()) if (!wanted.has(file)) entry.offsets.delete(file);
    if (alive !== false) {
      for (const [key, file] of files) {
        watchTranscript(sessionId, entry, file);
        // Lines before the newest hook were seen by that hook; a subagent's file is read whole the first time.
        const from = Math.max(entry.offsets.get(file) ?? 0, key === 'main' ? (session.transcript_offset ?? 0) : 0);
        const read = await readFrom(file, from);
        if (!read) {
          // Not written yet (Claude creates it with the first message): the sweep's stat notices when it is.
          advanced.set(file, from);
          continue;
        }
        if (read.events.length > 0) transcript[key] = read.events;
        if (key === 'main' && read.next !== from) entry.grewAt = Date.now();
        advanced.set(file, read.next);
        if (read.skipped > 0) log.warn({ session: sessionId, file, skipped: read.skipped }, 'transcript lines that are not JSON were skipped');
      }
    }

    const pending = pendingCommands(facts);
    entry.pendingApproval = pending.length > 0;
    const running = new Set<string>();
    for (const id of entry.before.keys()) if (!pending.some((tool) => tool.id === id)) entry.before.delete(id);
    if (alive === true && pending.length > 0 && session.pid !== null) {
      const children = processTree(session.pid).slice(1);
      const key = (child: { pid: number; start: number }): string => `${child.pid}:${child.start}`;
      for (const { id, command } of pending) {
        const before = entry.before.get(id);
        if (!before) {
          entry.before.set(id, new Set(children.map(key)));
          continue;
        }
        const started = children.filter((child) => !before.has(key(child)) && child.pid !== process.pid);
        if (commandRunning(command, started.map((child) => commandLine(child.pid) ?? []))) running.add(id);
      }
    }

    const screen = alive === true && Object.keys(transcript).length === 0 ? await readScreen(entry, facts) : undefined;
    const observation: Observation = { alive, transcript, running, screen };
    let current = facts;
    if (alive === false || Object.keys(transcript).length > 0 || running.size > 0 || screen === 'waiting') {
      const now = Date.now();
      current = await updateFacts(dir, sessionId, (latest) => resolveFacts(latest, observation, now), 2_000);
      if (alive === false) log.info({ session: sessionId, pid: session.pid }, 'the agent is gone: its facts were removed');
    }
    for (const [file, next] of advanced) entry.offsets.set(file, next);
    if (screen === 'waiting') log.info({ session: sessionId }, 'the turn ended with no hook (Esc before the reply?): the screen shows the agent idle');

    if (!current.session) {
      forget(sessionId);
      await options.onChange?.(sessionId, undefined, alive === false ? 'died' : 'ended');
      return;
    }
    // Statuses only: a hook that changes nothing a person sees must not reach subscribers.
    const seen = JSON.stringify([sessionStatus(current.agents), Object.entries(current.agents).map(([key, fact]) => [key, fact.status, fact.needs_approval_since])]);
    if (seen !== entry.last) {
      entry.last = seen;
      entry.pendingApproval = pendingCommands(current).length > 0;
      await options.onChange?.(sessionId, current);
    }
    scheduleScreen(entry, current);
  };

  const quietSince = (entry: Tracked, facts: Facts): number => Math.max(entry.grewAt, Date.parse(facts.agents['main']?.updated_at ?? '') || 0);

  /** The main agent's screen when its turn has been silent long enough to ask (two agreeing reads; see resolve.ts). */
  const readScreen = async (entry: Tracked, facts: Facts): Promise<AgentStatus | undefined> => {
    const now = Date.now();
    const kind = facts.session ? agentKind(facts.session.agent) : undefined;
    const pane = facts.session?.pane;
    if (!kind || !pane || !screenCheckWanted(facts, quietSince(entry, facts), now)) return undefined;
    const quiet = quietSince(entry, facts);
    const check = entry.screen?.quietSince === quiet ? entry.screen : { dueAt: 0, gapMs: SCREEN_GAP_MS, last: undefined, quietSince: quiet };
    if (now < check.dueAt) return undefined;
    const text = await capturePaneAt(pane, options.tmuxBin === undefined ? {} : { bin: options.tmuxBin });
    const seen = text === undefined ? undefined : classifyPane(kind.panePatterns, text);
    entry.screen = { dueAt: now + (seen === 'waiting' ? SCREEN_CONFIRM_MS : check.gapMs), gapMs: seen === 'working' ? Math.min(check.gapMs * 2, SCREEN_MAX_GAP_MS) : check.gapMs, last: seen, quietSince: quiet };
    return seen === 'waiting' && check.last === 'waiting' ? 'waiting' : undefined;
  };

  /** Keeps (or drops) the session's next screen read, for the screen timer to pick up. */
  const scheduleScreen = (entry: Tracked, facts: Facts): void => {
    const main = facts.agents['main'];
    const silentTurn = facts.session?.pane && main?.status === 'working' && Object.keys(main.tools).length === 0 && Object.keys(facts.agents).length === 1;
    if (!silentTurn) {
      entry.screen = undefined;
      return;
    }
    // A hook or a transcript line since the last read starts the wait (and the two agreeing reads) afresh.
    const quiet = quietSince(entry, facts);
    const check = entry.screen?.quietSince === quiet ? entry.screen : { dueAt: 0, gapMs: SCREEN_GAP_MS, last: undefined, quietSince: quiet };
    entry.screen = { ...check, dueAt: Math.max(quiet + SCREEN_CHECK_QUIET_MS, check.dueAt) };
    pollScreens();
  };

  let dirWatcher: FSWatcher | undefined;
  try {
    dirWatcher = watch(dir, { persistent: false }, (_event, name) => {
      const match = typeof name === 'string' ? FACT_FILE.exec(name) : null;
      if (match?.[1]) enqueue(match[1]);
    });
    dirWatcher.on('error', (error) => log.warn({ err: error }, 'watching the status directory failed; the sweep carries on'));
  } catch (error) {
    log.warn({ err: error, dir }, 'cannot watch the status directory; relying on the sweep');
  }

  let spoolWatcher: FSWatcher | undefined;
  try {
    mkdirSync(spool, { recursive: true });
    spoolWatcher = watch(spool, { persistent: false }, (_event, name) => {
      if (typeof name !== 'string' || !name.startsWith('.')) pokeSpool();
    });
    spoolWatcher.on('error', (error) => log.warn({ err: error }, 'watching the hook spool failed; the sweep carries on'));
  } catch (error) {
    log.warn({ err: error, spool }, 'cannot watch the hook spool; relying on the sweep');
  }

  // Most sweeps only look for what notifications can miss — a dead agent, a transcript grown unseen — with one
  // /proc read and one stat per file; every FULL_SWEEP_EVERY-th (a minute) re-resolves everything, so an idle watcher of
  // fifty sessions stays near zero CPU.
  let sweeps = 0;
  const sweep = setInterval(() => {
    sweeps += 1;
    if (pendingSpool(spool).length > 0) pokeSpool();
    if (sweeps % FULL_SWEEP_EVERY === 0) {
      sweepSpoolTemps(dir);
      void scan().then(() => tracked.forEach((_entry, id) => enqueue(id)));
      return;
    }
    // Synchronous on purpose: a few µs per call, where a promise round trip through the thread pool costs ~10×.
    // kill(pid, 0) is one syscall; the start-time check against pid reuse runs in the full sweep (resolve).
    for (const [id, entry] of tracked) {
      const dead = entry.agent !== undefined && !signalable(entry.agent.pid);
      if (dead || [...entry.offsets].some(([file, offset]) => (statSync(file, { throwIfNoEntry: false })?.size ?? offset) !== offset)) enqueue(id);
    }
  }, options.sweepMs);
  // The process-tree poll exists only while an approval is pending: an idle watcher has no timer but the sweep.
  let approvals: NodeJS.Timeout | undefined;
  const pollApprovals = (): void => {
    const pending = [...tracked].filter(([, entry]) => entry.pendingApproval);
    if (pending.length > 0 && !approvals) approvals = setInterval(() => tracked.forEach((entry, id) => entry.pendingApproval && enqueue(id)), options.approvalPollMs);
    if (pending.length === 0 && approvals) {
      if (approvals) clearInterval(approvals);
      approvals = undefined;
    }
  };
  // Like the approval poll, the screen timer exists only while some turn is silent, and only wakes the due ones.
  let screens: NodeJS.Timeout | undefined;
  function pollScreens(): void {
    const waiting = [...tracked.values()].some((entry) => entry.screen !== undefined);
    if (waiting && !screens) {
      screens = setInterval(() => {
        const now = Date.now();
        tracked.forEach((entry, id) => entry.screen && now >= entry.screen.dueAt && enqueue(id));
      }, SCREEN_CONFIRM_MS / 2);
    }
    if (!waiting && screens) {
      clearInterval(screens);
      screens = undefined;
    }
  }
  let idleSince = Date.now();
  let ready = false;
  try {
    sweepSpoolTemps(dir);
    await takeSpool();
    await scan();
    for (;;) {
      if (options.signal?.aborted) return 'stopped';
      await takeSpool();
      // One listing for the whole batch: a full sweep of fifty sessions must not list the directory fifty times.
      const names = dirty.size > 1 ? await listStatusDir(dir) : undefined;
      for (const sessionId of [...dirty]) {
        dirty.delete(sessionId);
        await resolve(sessionId, names).catch((error: unknown) => log.warn({ err: error, session: sessionId }, 'resolving a session failed; it is retried on the next sweep'));
      }
      pollApprovals();
      pollScreens();
      if (!ready) {
        ready = true;
        await options.onReady?.([...tracked.keys()]);
      }
      if (tracked.size > 0) idleSince = Date.now();
      else if (Date.now() - idleSince >= options.idleExitMs && pendingSpool(spool).length === 0) {
        if (options.mayExitIdle?.() ?? true) return 'idle';
        // A payload came in as it was about to go (and this watcher is the one again): take it.
        idleSince = Date.now();
        spooled = true;
      }
      if (dirty.size > 0 || spooled) continue;
      // An abort during the awaits above fired before the listener below exists: look again first.
      if (options.signal?.aborted) return 'stopped';
      await new Promise<void>((resume) => {
        // Woken by enqueue(); the timer is only for the idle exit, so a busy watcher does not spin on it.
        const timer = setTimeout(finish, tracked.size > 0 ? options.idleExitMs : Math.max(10, options.idleExitMs - (Date.now() - idleSince)));
        function finish(): void {
          clearTimeout(timer);
          wake = undefined;
          options.signal?.removeEventListener('abort', finish);
          resume();
        }
        wake = finish;
        options.signal?.addEventListener('abort', finish);
      });
    }
  } finally {
    clearInterval(sweep);
    if (approvals) clearInterval(approvals);
    if (screens) clearInterval(screens);
    dirWatcher?.close();
    spoolWatcher?.close();
    for (const id of [...tracked.keys()]) forget(id);
    await draining?.catch(() => undefined);
    await conversations.idle();
  }
}

/** Agent key → transcript file: the session's, and each subagent's beside it (`<sid>/subagents/agent-<id>.jsonl`). */
function transcriptsOf(facts: Facts): [string, string][] {
  const main = facts.session?.transcript_path;
  if (!main) return [];
  const base = path.join(path.dirname(main), path.basename(main, '.jsonl'), 'subagents');
  return [['main', main], ...Object.keys(facts.agents).flatMap((key): [string, string][] => (key === 'main' ? [] : [[key, path.join(base, `agent-${key}.jsonl`)]]))];
}

async function readFrom(file: string, from: number): Promise<{ events: TranscriptEvent[]; next: number; skipped: number } | undefined> {
  const size = await stat(file).then(
    (info) => info.size,
    () => undefined,
  );
  if (size === undefined) return undefined;
  // A file that shrank was replaced or truncated: what was before is gone, start from its end.
  if (size < from) return { events: [], next: size, skipped: 0 };
  if (size === from) return { events: [], next: from, skipped: 0 };
  const handle = await open(file, 'r');
  try {
    const length = Math.min(size - from, MAX_READ_BYTES);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, from);
    const parsed = parseTranscriptChunk(buffer.subarray(0, bytesRead), from);
    // One line longer than the read window can never complete: step over it rather than stall on it.
    const next = parsed.consumed === 0 && bytesRead === MAX_READ_BYTES ? from + bytesRead : from + parsed.consumed;
    return { events: parsed.events, next, skipped: parsed.skipped };
  } finally {
    await handle.close();
  }
}
