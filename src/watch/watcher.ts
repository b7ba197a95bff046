import { mkdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { agentKind, artifactRoots, type ArtifactRoots, type LiveState } from '../agents/index.js';
import { homeDir } from '../util/home.js';
import { readTextOrUndefined } from '../util/files.js';
import { parseJsonOrUndefined } from '../util/json.js';
import type { Logger } from '../util/log.js';
import { commandLine, isAlive, processId, processTree, signalable } from '../proc/tree.js';
import { capturePaneAt } from '../tmux/pane-address.js';
import { sessionStatus, type Facts } from '../facts/derive.js';
import type { AgentStatus } from '../facts/schema.js';
import { classifyPane } from './pane.js';
import { approvalLineArrived, backgroundChange, backgroundCommands, commandRunning, pendingCommands, resolveFacts, SCREEN_CHECK_QUIET_MS, screenCheckWanted, screenEnds, screenWait, waitingApprovals, type Observation } from './resolve.js';
import { listStatusDir, readFacts, updateFacts } from '../facts/store.js';
import { consumeSpool, conversationWriter, pendingSpool, spoolDir, sweepSpoolTemps } from '../facts/spool.js';
import { parseTranscriptChunk, type TranscriptEvent } from './transcript.js';
import { markResumeSent, resumeAt } from './limits.js';

/**
 * What the watcher needs to resume an agent after a usage limit (docs/status.md, 'Usage limits'): the text to send,
 * or undefined when its registry entry does not ask for it, and the confirmed send itself (src/deliver/).
 */
export interface AutoResume {
  text(facts: Facts): Promise<string | undefined>;
  send(facts: Facts, text: string): Promise<{ readonly ok: boolean; readonly detail: string }>;
}

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
  /** Where the agents keep their files (their live records); default: from this process's environment. */
  readonly roots?: ArtifactRoots;
  /** Sends `continue` when a usage limit resets; without it nothing is sent. */
  readonly autoResume?: AutoResume;
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
/** A screen that looked like the end of the wait is read once more this soon: two reads must agree before it counts. */
const SCREEN_CONFIRM_MS = 1_000;
const FACT_FILE = /^([A-Za-z0-9][A-Za-z0-9_-]{0,127})\.(?:session|agent\.[A-Za-z0-9_-]+)\.json$/;

interface Tracked {
  /** Transcript path → the byte offset read up to. */
  readonly offsets: Map<string, number>;
  readonly watchers: Map<string, FSWatcher>;
  /** What the last resolve saw, to tell onChange only about changes. */
  last: string;
  pendingApproval: boolean;
  /** Background work is followed through the process tree (no live record says when it ends): poll like an approval. */
  pollBackground: boolean;
  /** The agent process, as the facts last named it, for the cheap liveness check of the sweep. */
  agent: { pid: number; start: number | null } | undefined;
  /**
   * Per tool waiting for approval: the processes already under the agent when the watcher first saw it wait
   * (MCP servers, language servers, background jobs). Only a process started since can be the approved command.
   */
  readonly before: Map<string, Set<string>>;
  /** When the main transcript last grew (epoch ms); with the newest hook, how long the turn has been silent. */
  grewAt: number;
  /** The wake-up at a usage limit's reset, and the reset a `text()` of undefined declined (asked once per limit). */
  resume: { timer: NodeJS.Timeout | undefined; at: number | undefined; declined: number | undefined };
  /**
   * A tool's transcript line came while its approval dialog was still on screen (src/watch/resolve.ts): until the
   * approval wait ends, the screen is read for the dialog closing, as for an agent whose dialogs close unseen.
   */
  tracksDialog: boolean;
  /** The tools waiting for approval when the agent's live record last said a dialog shows (their ids, joined). */
  liveDialog: string | undefined;
  /** While the session is in a state only its screen can end (`screenWait`): when it is next read, and what the last read showed. */
  screen: { dueAt: number; gapMs: number; last: AgentStatus | undefined; quietSince: number } | undefined;
}

export async function runWatcher(options: WatchOptions): Promise<'idle' | 'stopped'> {
  const { dir, log } = options;
  const roots = options.roots ?? artifactRoots(process.env, homeDir(process.env));
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
  /** Set once the loop has ended: with watch.pid given up, another watcher may be recording the spool already. */
  let closing = false;
  let draining: Promise<void> | undefined;
  /**
   * Records what is spooled, once at a time. Started from the spool's change notification as well as from the loop,
   * so a payload is recorded (and `needs approval` visible) even while the loop awaits a slow look at another session.
   */
  const takeSpool = (): Promise<void> => {
    draining ??= (async () => {
      while (spooled && !closing) {
        spooled = false;
        await consumeSpool({
          dir,
          lockMs: hookLockMs,
          stop: () => closing,
          recorded: (recorded, name) => {
            log.debug({ session: recorded.sessionId, spool: name }, 'a spooled hook was recorded');
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
    if (entry.resume.timer) clearTimeout(entry.resume.timer);
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
      entry = { offsets: new Map(), watchers: new Map(), last: '', pendingApproval: false, pollBackground: false, agent: undefined, before: new Map(), grewAt: 0, tracksDialog: false, liveDialog: undefined, screen: undefined, resume: { timer: undefined, at: undefined, declined: undefined } };
      tracked.set(sessionId, entry);
    }
    const session = facts.session;
    entry.agent = session.pid === null ? undefined : { pid: session.pid, start: session.pid_start };
    const alive = session.pid === null ? undefined : session.pid_start !== null ? isAlive({ pid: session.pid, start: session.pid_start }) : processId(session.pid) !== undefined;

    const transcript: Record<string, readonly TranscriptEvent[]> = {};
    const advanced = new Map<string, number>();
    const files = transcriptsOf(facts);
    // The agent's live record says when background work starts and ends (docs/status.md, 'Background work'), and when
    // an approval dialog closes allowed: watched while the agent works only on background work, waits, or waits on an
    // approval.
    const main = facts.agents['main'];
    const kind = agentKind(session.agent);
    const waitingIds = waitingApprovals(facts.agents).map(({ id }) => id);
    const approvalWait = waitingIds.length > 0;
    const wantsLive = alive === true && main !== undefined && (approvalWait || (Object.keys(main.tools).length === 0 && (main.status === 'working' ? main.background.length > 0 : main.status === 'waiting')));
    const liveFile = wantsLive && session.pid !== null && kind?.liveState ? kind.liveState.file(session.pid, roots) : undefined;
    // A subagent that finished takes its transcript's watch and offset along.
    const wanted = new Set(files.map(([, file]) => file));
    if (liveFile) {
      wanted.add(liveFile);
      watchTranscript(sessionId, entry, liveFile);
    }
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

    const live: LiveState | undefined = liveFile && kind?.liveState ? kind.liveState.parse(parseJsonOrUndefined(readTextOrUndefined(liveFile) ?? '')) : undefined;
    // Only a dialog seen in this very wait and then gone counts: the record says busy before the dialog shows too.
    const waitKey = waitingIds.sort().join(' ');
    if (!approvalWait) entry.liveDialog = undefined;
    else if (live === 'dialog' && entry.liveDialog !== waitKey) {
      entry.liveDialog = waitKey;
      log.debug({ session: sessionId }, "the agent's live record says its dialog shows");
    }
    const dialogAnswered = approvalWait && entry.liveDialog === waitKey && live === 'busy';
    // No live record (an older version, another agent): the background shells are looked for under the agent.
    const commands = wantsLive && live === undefined && main?.status === 'working' && session.pid !== null ? backgroundCommands(main) : [];
    const tree = commands.length > 0 ? processTree(session.pid!).slice(1).map((child) => commandLine(child.pid) ?? []) : [];
    const backgroundRunning = commands.length > 0 ? commands.some((command) => commandRunning(command, tree)) : undefined;
    entry.pollBackground = backgroundRunning === true;
    const screen = alive === true && Object.keys(transcript).length === 0 ? await readScreen(entry, facts) : undefined;
    const dialogOpen = alive === true && approvalLineArrived(facts, transcript) ? (await paneStatus(facts)) === 'needs_approval' : undefined;
    if (dialogOpen) {
      entry.tracksDialog = true;
      log.info({ session: sessionId }, "a tool's transcript line came while its approval dialog is still on screen: still needs approval");
    }
    const observation: Observation = { alive, transcript, running, screen, live, backgroundRunning, dialogOpen, dialogAnswered };
    let current = facts;
    if (alive === false || Object.keys(transcript).length > 0 || running.size > 0 || screen !== undefined || dialogAnswered || backgroundChange(facts, observation) !== undefined) {
      const now = Date.now();
      current = await updateFacts(dir, sessionId, (latest) => resolveFacts(latest, observation, now), 2_000);
      if (alive === false) log.info({ session: sessionId, pid: session.pid }, 'the agent is gone: its facts were removed');
    }
    for (const [file, next] of advanced) entry.offsets.set(file, next);
    if (screen !== undefined) log.info({ session: sessionId, screen }, 'no hook said so: the screen shows the agent idle (Esc?) or busy (allowed) again');
    if (running.size > 0) log.info({ session: sessionId, tools: [...running] }, 'an approved command runs under the agent: working');
    if (dialogAnswered) log.info({ session: sessionId }, "the agent's live record says its dialog closed and it is busy: approved, working");
    if (waitingApprovals(current.agents).length === 0) entry.tracksDialog = false;
    const background = backgroundChange(facts, observation);
    if (background) log.info({ session: sessionId, live, backgroundRunning }, background === 'ended' ? 'the background work ended: the agent waits' : 'the agent runs a background shell: working');

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
    await resumeWhenDue(sessionId, entry, current);
  };

  /**
   * A limited agent whose reset time is known gets `continue` at that time, once: a timer wakes the session then;
   * the send is recorded under the lock first (markResumeSent), so a second pass or a restarted watcher never repeats it.
   */
  const resumeWhenDue = async (sessionId: string, entry: Tracked, facts: Facts): Promise<void> => {
    const at = options.autoResume ? resumeAt(facts) : undefined;
    if (at !== entry.resume.at) {
      if (entry.resume.timer) clearTimeout(entry.resume.timer);
      entry.resume = { timer: undefined, at, declined: entry.resume.declined };
    }
    if (at === undefined || !options.autoResume || entry.resume.declined === at) return;
    const now = Date.now();
    if (now < at) {
      // setTimeout's limit is about 24.8 days; a later reset is looked at again after this wait.
      entry.resume.timer ??= setTimeout(() => {
        entry.resume.timer = undefined;
        enqueue(sessionId);
      }, Math.min(at - now, 3_600_000));
      return;
    }
    const text = await options.autoResume.text(facts);
    if (text === undefined) {
      entry.resume.declined = at;
      log.info({ session: sessionId, until: new Date(at).toISOString() }, 'the usage limit reset; its entry does not ask for auto_resume');
      return;
    }
    let marked = false;
    await updateFacts(
      dir,
      sessionId,
      (latest) => {
        const applied = markResumeSent(latest, Date.now());
        marked = applied.facts !== latest;
        return applied;
      },
      2_000,
    );
    if (!marked) return;
    // Not awaited: a confirmed send waits for the agent's prompt and may retry for seconds, and every other session
    // must be resolved meanwhile. The agent's own hooks report what follows.
    void options.autoResume
      .send(facts, text)
      .catch((error: unknown) => ({ ok: false, detail: String(error) }))
      .then((receipt) => {
        if (receipt.ok) log.info({ session: sessionId, text }, `the usage limit reset: sent ${JSON.stringify(text)}`);
        else log.warn({ session: sessionId, text, detail: receipt.detail }, 'the usage limit reset, but sending the resume text failed (it is not tried again)');
      });
  };

  /** When the session last said anything: its transcript grew, or a hook or the watcher wrote one of its agents. */
  const quietSince = (entry: Tracked, facts: Facts): number => Math.max(entry.grewAt, ...Object.values(facts.agents).map((fact) => Date.parse(fact.updated_at) || 0));
  const closesUnseen = (entry: Tracked, facts: Facts): boolean => entry.tracksDialog || (facts.session ? agentKind(facts.session.agent)?.panePatterns.approvalClosesUnseen === true : false);

  /** What the session's pane shows now, by its agent's patterns; undefined when there is no pane (or agent) to read. */
  const paneStatus = async (facts: Facts): Promise<AgentStatus | undefined> => {
    const kind = facts.session ? agentKind(facts.session.agent) : undefined;
    const pane = facts.session?.pane;
    if (!kind || !pane) return undefined;
    const text = await capturePaneAt(pane, options.tmuxBin === undefined ? {} : { bin: options.tmuxBin });
    return text === undefined ? undefined : classifyPane(kind.panePatterns, text);
  };

  /**
   * The session's screen when it has been silent long enough in a state only the screen can end (two agreeing
   * reads; see resolve.ts), or undefined. While the screen still shows what the state says (busy in a silent
   * turn, the dialog in an approval wait), it is read ever less often.
   */
  const readScreen = async (entry: Tracked, facts: Facts): Promise<AgentStatus | undefined> => {
    const now = Date.now();
    const kind = facts.session ? agentKind(facts.session.agent) : undefined;
    const pane = facts.session?.pane;
    const wait = screenWait(facts, closesUnseen(entry, facts));
    const quiet = quietSince(entry, facts);
    if (!kind || !pane || !wait || !screenCheckWanted(facts, quiet, now, closesUnseen(entry, facts))) return undefined;
    const check = entry.screen?.quietSince === quiet ? entry.screen : { dueAt: 0, gapMs: SCREEN_GAP_MS, last: undefined, quietSince: quiet };
    if (now < check.dueAt) return undefined;
    const seen = await paneStatus(facts);
    const unchanged = seen === (wait === 'approval' ? 'needs_approval' : 'working');
    const ends = screenEnds(wait, seen);
    entry.screen = { dueAt: now + (ends ? SCREEN_CONFIRM_MS : check.gapMs), gapMs: unchanged ? Math.min(check.gapMs * 2, SCREEN_MAX_GAP_MS) : check.gapMs, last: seen, quietSince: quiet };
    return ends && check.last === seen ? seen : undefined;
  };

  /** Keeps (or drops) the session's next screen read, for the screen timer to pick up. */
  const scheduleScreen = (entry: Tracked, facts: Facts): void => {
    if (!screenWait(facts, closesUnseen(entry, facts))) {
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
    const pending = [...tracked].filter(([, entry]) => entry.pendingApproval || entry.pollBackground);
    if (pending.length > 0 && !approvals) approvals = setInterval(() => tracked.forEach((entry, id) => (entry.pendingApproval || entry.pollBackground) && enqueue(id)), options.approvalPollMs);
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
    closing = true;
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
