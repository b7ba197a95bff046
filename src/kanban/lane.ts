import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentKind, launcherFor } from '../agents/index.js';
import { monitorStateDir, statusDir } from '../config.js';
import { sessionStatus as agentsActivity } from '../facts/derive.js';
import { listStatusDir, readAgentFacts } from '../facts/store.js';
import { jobContext } from '../jobs/context.js';
import { isTerminal } from '../jobs/events.js';
import type { JobContext } from '../jobs/service.js';
import { readJob } from '../jobs/store.js';
import { attachHint, lifecycleContext, newSessionServer } from '../lifecycle/context.js';
import { createSession } from '../lifecycle/create.js';
import { attachSession, eventCommand, prepareDelegatedJob } from '../lifecycle/delegate.js';
import { ownedElsewhere } from '../lifecycle/ownership.js';
import { resumeSession } from '../lifecycle/resume.js';
import { stopSession } from '../lifecycle/stop.js';
import { submitPrompt } from '../lifecycle/submit.js';
import { deliverMessage } from '../deliver/deliver.js';
import { setEntryFields } from '../registry/document.js';
import { isoSeconds, type RegistryEntry } from '../registry/schema.js';
import { acquireLock } from '../registry/lock.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { runTmux, sessionTarget } from '../tmux/client.js';
import { capturePane, deadPane, sessionPane } from '../tmux/session.js';
import { errorMessage, MamError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { PaneSampler, paneTarget } from '../watch/pane-sampler.js';
import type { HermesBoard } from './hermes-board.js';
import { laneSessionName } from './lane-launch.js';
import { askJudge } from './lane-judge.js';
import { applyJobEvents, commentAction, firstPrompt, goalStep, heartbeatNote, isForAgent, lastScreenLines, waitedFor, type GoalBudget, type LiveStatus } from './lane-policy.js';
import { runLimits } from './launch.js';
import { enqueue, freezeProgress, initialLaneState, laneStateFile, loadLaneState, saveLaneState, settleSent, type LaneState } from './lane-state.js';
import { DEFAULT_SETTINGS, parseDuration, settingsFromCard } from './settings.js';
import { nextBlockKind } from './stop.js';
import { BoardError, type CardSnapshot } from './types.js';

/**
 * One card worked by an interactive agent in tmux (docs/lane.md): start (or re-attach to, or resume) the session
 * `<card>-<agent>`, hand it the card as a delegated job, and then, until the card ends: the agent's job events become
 * comments and the card's end, people's comments are typed into the agent, its live status goes into heartbeats, a
 * long approval wait is told once, a dead agent is resumed once. Everything owed to the card is in the lane's state
 * file first (./lane-state.ts), so a restart finishes what the last run began.
 */
export interface LaneIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** What the command line set; unset fields come from the card (`interval:` …), then the defaults. */
export interface LaneFlags {
  readonly registry?: string | undefined;
  readonly intervalMs?: number | undefined;
  readonly heartbeatMs?: number | undefined;
  readonly approvalAlertMs?: number | undefined;
}

export interface LaneSettings {
  /** How often the card is read (for comments and its status): each read is one `hermes kanban show`. */
  readonly intervalMs: number;
  readonly heartbeatMs: number;
  /** An approval wait this long is commented once, with the tool and command. */
  readonly approvalAlertMs: number;
  /** An approval wait this long, with nobody attached, blocks the card `needs_input`. */
  readonly approvalBlockMs: number;
  /** Progress events are coalesced into at most one comment per this long. */
  readonly progressEveryMs: number;
}

export const DEFAULT_LANE_SETTINGS: LaneSettings = {
  intervalMs: 10_000,
  heartbeatMs: 5 * 60_000,
  approvalAlertMs: 10 * 60_000,
  approvalBlockMs: 60 * 60_000,
  progressEveryMs: 60_000,
};

export type LaneOutcome =
  /** This run completed or blocked the card (or saw that an earlier run's action had landed). */
  | { readonly kind: 'finished'; readonly how: 'complete' | 'block' }
  /** Someone else moved the card out of `running` (or a newer run superseded this one). */
  | { readonly kind: 'card-closed'; readonly status: string }
  | { readonly kind: 'handover'; readonly reason: string }
  | { readonly kind: 'interrupted' };

export interface LaneRun {
  readonly io: LaneIo;
  readonly flags: LaneFlags;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly board: HermesBoard;
  readonly agent: string;
  /** The card's workspace (`HERMES_KANBAN_WORKSPACE`), created when missing. */
  readonly workspace: string;
  /** Epoch ms by which this run must have handed over (goal turns, max runtime, claim TTL). */
  readonly deadline: number | undefined;
  readonly signal: AbortSignal;
  /** The agent's extra arguments (tests: none). */
  readonly agentArgs?: readonly string[];
}

/** Job limits for a card's agent: a card may take days, and an interactive agent may be quiet for hours. */
const JOB_LIMIT_S = 30 * 86_400;
/** How often the job file and the agent's pane are looked at between card reads. */
const TICK_MS = 1_000;
/** Time kept in hand before a deadline for the last heartbeat and the hand-over itself. */
const HANDOVER_MARGIN_MS = 30_000;
const SCREEN_LINES = 15;

/** How long a run waits for another run of the same card (a hand-over's predecessor finishing its step) to let go. */
const CARD_LOCK_WAIT_MS = 60_000;

export async function runLaneCard(run: LaneRun): Promise<LaneOutcome> {
  // One run per card on this host, whatever started it: the state file is that run's, and so is the agent.
  const lockFile = `${laneStateFile(monitorStateDir(run.io.env), run.board.cardId)}.lock`;
  await mkdir(path.dirname(lockFile), { recursive: true });
  const held = await acquireLock(lockFile, { timeoutMs: CARD_LOCK_WAIT_MS }).catch(() => undefined);
  if (!held) {
    run.log.warn({ card: run.board.cardId }, 'another lane run is working this card; leaving it to that run');
    return { kind: 'card-closed', status: 'worked by another lane run' };
  }
  try {
    return await workCard(run);
  } finally {
    await held.release();
  }
}

async function workCard(run: LaneRun): Promise<LaneOutcome> {
  const { io, board, agent, log } = run;
  await mkdir(run.workspace, { recursive: true });
  const lifecycle = lifecycleContext({ registry: run.flags.registry, env: io.env, cwd: run.workspace, say: (line) => log.info(line) });
  const server = newSessionServer(undefined, io.env);
  const name = laneSessionName(board.cardId, agent);
  const launcher = launcherFor(agent);
  const label = `${board.self} (${agent})`;
  // Agents no hook reports for (Codex's approval dialogs fire none): read from the pane, rate-limited.
  const panes = new PaneSampler({ now: Date.now, tmux: lifecycle.tmux });
  const stateFile = laneStateFile(monitorStateDir(io.env), board.cardId);
  const loaded = await loadLaneState(stateFile, board.cardId);
  if (loaded.discarded) log.warn(loaded.discarded);
  let state: LaneState = loaded.state ?? initialLaneState({ card: board.cardId, agent, session: name, server });
  let saved = '';
  const save = async (): Promise<void> => {
    const text = JSON.stringify(state);
    if (text === saved) return;
    await saveLaneState(stateFile, state);
    saved = text;
  };
  const warned = new Set<string>();
  const warnOnce = (topic: string, message: string): void => {
    if (warned.has(topic)) return;
    warned.add(topic);
    log.warn(message);
  };
  const clear = (topic: string): void => {
    if (warned.delete(topic)) log.info(`${topic}: working again`);
  };
  const heartbeat = async (note: string): Promise<void> => {
    await board.heartbeat(note).then(
      () => clear('heartbeat'),
      (error: unknown) => warnOnce('heartbeat', `heartbeat failed: ${errorMessage(error)}`),
    );
  };

  const jobs = (dir: string): JobContext =>
    jobContext({ env: io.env, cwd: run.workspace, registryFile: lifecycle.registryFile, registryDir: dir, clientId: '', warn: (line) => log.warn(line) });

  // The card first: its body is the agent's brief. Hermes may be down; wait for it rather than start blind.
  const first = await firstRead();
  if (!first) return { kind: 'interrupted' };
  let card: CardSnapshot = first;
  if (card.status !== 'running') return { kind: 'card-closed', status: card.status };
  const settings = laneSettings(card, board.self, run.flags);
  const goal = goalBudget(io.env, card);
  await heartbeat(`starting ${agent} in ${name}`);
  state = settleSent(state, card, board.self);

  // A finish saved by an earlier run: redo it unless it landed and a person has since unblocked the card.
  if (state.finish?.kind === 'block' && card.comments.some((comment) => comment.body.startsWith(`BLOCKED: ${(state.finish as { reason: string }).reason}`))) {
    state = { ...state, finish: null, stopping: false, approvalBlocked: state.approvalBlocked };
  }
  if (!state.finish) await ensureAgent(card);
  await save();

  let nextCardRead = Date.now() + settings.intervalMs;
  let nextHeartbeat = Date.now() + settings.heartbeatMs;
  let nextFinishTry = 0;
  let nextGoalPromptTry = 0;

  for (;;) {
    if (run.signal.aborted) {
      await save();
      return { kind: 'interrupted' };
    }
    const now = Date.now();
    let cardChecked = false;
    // 1. The agent's reports.
    if (state.jobId && state.jobDir && !state.finish) {
      const job = await readJob(state.jobDir, state.jobId).catch((error: unknown) => {
        warnOnce('job', `cannot read job ${state.jobId}: ${errorMessage(error)}`);
        return undefined;
      });
      if (job) {
        clear('job');
        state = applyJobEvents(state, job.events, nextBlockKind(card.comments), goal !== undefined);
      }
    }
    // 1b. A goal card's completion goes to the judge; a rejection goes back to the agent.
    if (state.judging !== null && !state.finish && !state.stopping) await judge(goal ?? { maxTurns: 1 });
    if (state.goalPrompt !== null && !state.finish && now >= nextGoalPromptTry) {
      await sendGoalPrompt();
      if (state.goalPrompt !== null) nextGoalPromptTry = Date.now() + settings.intervalMs;
    }
    // 2. The card: its status, people's comments, whether our comments landed.
    // Before a retried finish too: the earlier try may have landed. A first try goes straight to the board.
    if (now >= nextCardRead || (state.finish && nextFinishTry > 0 && now >= nextFinishTry)) {
      nextCardRead = now + settings.intervalMs;
      const read = await board.read().then(
        (snapshot) => {
          clear('read');
          return snapshot;
        },
        (error: unknown) => {
          warnOnce('read', `cannot read card ${board.cardId} (kept going; comments are kept): ${errorMessage(error)}`);
          return undefined;
        },
      );
      if (read) {
        card = read;
        cardChecked = true;
        if (card.status !== 'running') {
          await save();
          if (state.finish) {
            await afterFinish();
            return { kind: 'finished', how: state.finish.kind };
          }
          log.info({ status: card.status }, 'the card is no longer running; the agent is left as it is');
          return { kind: 'card-closed', status: card.status };
        }
        state = settleSent(state, card, board.self);
        if (!state.finish) {
          const stopped = await takeComments(card);
          if (stopped) state = stopped;
        }
      }
    }
    // 3. Is the agent alive?
    if (!state.finish && !state.stopping) await checkAlive();
    // 4. A long approval wait.
    if (!state.finish && cardChecked) await checkApproval(now);
    // 5. Comments out, in order.
    state = freezeProgress(state, now, settings.progressEveryMs, label);
    await sendOutbox(cardChecked);
    await save();
    // 6. The card's end, after the comments before it: one whose send had an unknown outcome waits for a card read.
    if (state.finish && Date.now() >= nextFinishTry && !state.outbox.some((comment) => comment.tried)) {
      if (await finish()) {
        await afterFinish();
        await sendOutbox(false);
        await save();
        return { kind: 'finished', how: state.finish.kind };
      }
      nextFinishTry = Date.now() + Math.min(settings.intervalMs, 10_000);
    }
    // 7. Heartbeat with the live status.
    if (Date.now() >= nextHeartbeat) {
      await heartbeat(heartbeatNote(agent, name, await liveStatus(), Date.now()));
      while (nextHeartbeat <= Date.now()) nextHeartbeat += settings.heartbeatMs;
    }
    if (run.deadline !== undefined && !state.finish && Date.now() + TICK_MS + HANDOVER_MARGIN_MS >= run.deadline) {
      const reason = `run budget ends at ${isoSeconds(run.deadline)}`;
      await heartbeat(`handing over (${reason}); ${agent} keeps running in ${name}`);
      await save();
      return { kind: 'handover', reason };
    }
    await sleep(TICK_MS, undefined, { signal: run.signal }).catch(() => undefined);
  }

  async function firstRead(): Promise<CardSnapshot | undefined> {
    for (let delay = 1_000; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        return await board.read();
      } catch (error) {
        warnOnce('read', `cannot read card ${board.cardId} yet (retrying): ${errorMessage(error)}`);
        await sleep(delay, undefined, { signal: run.signal }).catch(() => undefined);
        if (run.signal.aborted) return undefined;
      }
    }
  }

  /**
   * The one agent of this card: re-attach to its live session (a hand-over, a second dispatch), resume it when it
   * is stopped or dead (an unblock after a stop or a block), or start it. The registry's `kanban_card` and the tmux
   * session's owner mark decide; `createSession` refuses a name taken under the registry lock, so two runs racing
   * here start one agent.
   */
  async function ensureAgent(current: CardSnapshot): Promise<void> {
    const entry = await entryOf();
    if (entry && entry.kanban_card && entry.kanban_card !== board.cardId) {
      throw new MamError(`session ${name} in ${lifecycle.registryFile} works card ${entry.kanban_card}, not ${board.cardId}; rename or delete it (mam delete ${name})`);
    }
    const owner = await ownedElsewhere(lifecycle, server, name);
    if (owner) throw new MamError(`tmux session ${name} belongs to registry ${owner}; run the lane with MAM_REGISTRY=${owner}`);
    const pane = await sessionPane(server, name, lifecycle.tmux);
    if (entry && (entry.status === 'running' || entry.status === 'starting') && pane && !pane.dead) {
      state = { ...state, ...jobOf(entry), commentCursor: state.commentCursor ?? current.comments.length };
      log.info({ session: name }, 're-attached to the live session');
      return;
    }
    if (entry) {
      await resumeAgent(entry, `the card is running again`);
      return;
    }
    const delegated = await prepareDelegatedJob(jobs(jobContextDir()), {
      agent,
      prompt: firstPrompt(current, board.self),
      workdir: run.workspace,
      timeoutS: JOB_LIMIT_S,
      idleTimeoutS: JOB_LIMIT_S,
    });
    state = { ...state, jobId: delegated.job.job_id, jobDir: delegated.jobs.dir, jobSeq: 0, commentCursor: current.comments.length, resumed: 0 };
    await save();
    let created: Awaited<ReturnType<typeof createSession>>;
    try {
      created = await createSession(lifecycle, {
        agent,
        workspace: run.workspace,
        name,
        server,
        agentArgs: [...(run.agentArgs ?? [])],
        submitJob: delegated.instruction,
        delegateJobId: delegated.job.job_id,
        delegateJobRegistry: delegated.jobs.dir,
        extraFields: { kanban_card: board.cardId },
      });
    } catch (error) {
      // Another run got there first (its entry is `starting` or running): that agent is this card's.
      const other = await entryOf();
      if (other?.kanban_card === board.cardId) {
        log.warn({ err: errorMessage(error) }, 'another run is starting this card; following its agent instead');
        state = { ...state, ...jobOf(other) };
        return;
      }
      throw error;
    }
    await attachSession(delegated.jobs, delegated.job.job_id, name);
    state = enqueue(
      state,
      `${label} started in tmux session ${name} (workspace ${run.workspace}). Watch it live: \`${attachHint(name)}\` or \`tmux -L ${server} attach -t ${name}\`. ` +
        'Comment on this card to talk to it (a comment starting with / is a slash command; `stop` stops it).',
    );
    // An agent that died on its first prompt is the death check's to resume (with the prompt again); a live one that
    // did not take it blocks the card with why.
    const alive = await sessionPane(server, name, lifecycle.tmux).then((facts) => facts !== undefined && !facts.dead);
    if (created.submitted && !created.submitted.ok && alive) {
      state = { ...state, finish: { kind: 'block', reason: `the card was not delivered to ${agent}: ${created.submitted.detail}`, blockKind: nextBlockKind(current.comments) } };
    }
  }

  /** Starts a stopped or dead agent again in its conversation, and tells it how to go on reporting. */
  async function resumeAgent(entry: RegistryEntry, why: string): Promise<void> {
    const resumed = await resumeSession(lifecycle, name);
    let { jobId, jobDir } = jobOf(entry);
    const job = jobId && jobDir ? await readJob(jobDir, jobId).catch(() => undefined) : undefined;
    const open = job !== undefined && !isTerminal(job.status);
    let prompt: string;
    if (open && jobId && jobDir) {
      // Died before it reported anything: it may never have seen the card, so it gets the whole instruction again.
      const instruction = job.events.every((event) => event.event === 'submitted') ? await readFile(path.join(job.logs_dir, 'instruction.txt'), 'utf8').catch(() => undefined) : undefined;
      prompt = instruction ?? `You were restarted (${why}). Go on with Kanban card ${board.cardId}; report as before with ${eventCommand(jobDir, jobId, io.env)} --event progress|completed|error.`;
    } else {
      // The last job ended (a stop reports it completed): a new one carries this stretch of work.
      const next = await newJob(`Continue Kanban card ${board.cardId} (${card.title}) where you left off (${why}).`);
      ({ jobId, jobDir } = next);
      prompt = next.instruction;
    }
    state = { ...state, jobId, jobDir, jobSeq: open ? state.jobSeq : 0, commentCursor: state.commentCursor ?? card.comments.length, stopping: false };
    await save();
    const submitted = await submitPrompt(lifecycle, { server, name, launcher, prompt, ready: false });
    state = enqueue(state, `${label}: ${why}; ${resumed.note}. Watch it live: \`${attachHint(name)}\`${submitted.ok ? '' : ` (the prompt to go on was not confirmed: ${submitted.detail})`}.`);
  }

  /** A new delegated job for the live agent (its last one ended): the registry entry follows it to the new job. */
  async function newJob(prompt: string): Promise<{ jobId: string; jobDir: string; instruction: string }> {
    const delegated = await prepareDelegatedJob(jobs(jobContextDir()), { agent, prompt, workdir: run.workspace, timeoutS: JOB_LIMIT_S, idleTimeoutS: JOB_LIMIT_S });
    const jobId = delegated.job.job_id;
    const jobDir = delegated.jobs.dir;
    await attachSession(delegated.jobs, jobId, name);
    await updateRegistry(lifecycle.registryFile, (registry) => ({ changed: setEntryFields(registry.document, name, { delegate_job_id: jobId, delegate_job_registry: jobDir }), result: undefined }), lifecycle.lock);
    return { jobId, jobDir, instruction: delegated.instruction };
  }

  /**
   * The goal judge's answer to the agent's completion (docs/lane.md, 'Goal cards'), saved before it is acted on: done
   * completes; a rejection gets a new job (the completed one is closed) whose prompt says why, delivered next.
   */
  async function judge(budget: GoalBudget): Promise<void> {
    const summary = state.judging!;
    const command = io.env['MAM_LANE_JUDGE']?.trim();
    const answer = command
      ? await askJudge(command, { card: board.cardId, goal: `${card.title}\n\n${card.body}`, response: summary }, { env: io.env, cwd: run.workspace })
      : ({ kind: 'done', reason: 'no judge configured (MAM_LANE_JUDGE)' } as const);
    log.info({ card: board.cardId, verdict: answer.kind, reason: answer.reason }, 'goal judge answered');
    const step = goalStep(state, budget, answer, label);
    if (step.kind === 'complete') {
      state = { ...(step.note ? enqueue(state, step.note) : state), judging: null, finish: { kind: 'complete', summary } };
    } else if (step.kind === 'block') {
      state = { ...state, judging: null, finish: { kind: 'block', reason: step.reason, blockKind: 'needs_input' } };
    } else {
      const next = await newJob(step.prompt);
      state = { ...enqueue(state, step.comment), judging: null, goalTurns: step.turn, goalPrompt: next.instruction, jobId: next.jobId, jobDir: next.jobDir, jobSeq: 0 };
    }
    await save();
  }

  /** The rejection's prompt, typed into the agent with a receipt; kept (and tried again) until it is confirmed. */
  async function sendGoalPrompt(): Promise<void> {
    const submitted = await submitPrompt(lifecycle, { server, name, launcher, prompt: state.goalPrompt!, ready: true });
    if (!submitted.ok) {
      warnOnce('goal-prompt', `the judge's answer was not delivered to ${name} yet (kept, will retry): ${submitted.detail}`);
      return;
    }
    clear('goal-prompt');
    log.info({ session: name }, "the judge's answer was delivered to the agent");
    state = { ...state, goalPrompt: null };
    await save();
  }

  /** People's comments since the cursor, in order; returns the state with a stop under way when one asks to stop. */
  async function takeComments(current: CardSnapshot): Promise<LaneState | undefined> {
    let cursor = state.commentCursor ?? current.comments.length;
    for (; cursor < current.comments.length; cursor += 1) {
      const comment = current.comments[cursor]!;
      if (!isForAgent(comment, board.self)) continue;
      const action = commentAction(comment);
      if (action.kind === 'stop') {
        state = { ...state, commentCursor: cursor + 1, stopping: true };
        await save();
        return stopAgent(comment.author, current);
      }
      const target = { server, target: sessionTarget(name), tmux: lifecycle.tmux };
      const receipt =
        action.kind === 'slash'
          ? await deliverMessage(target, { text: action.command, launcher, verify: false })
          : await deliverMessage(target, { text: action.text, launcher, verify: true });
      if (!receipt.ok) {
        // Left at this comment: tried again at the next card read.
        warnOnce('deliver', `comment ${cursor + 1} not delivered to ${name} yet: ${receipt.detail}`);
        break;
      }
      clear('deliver');
      log.info({ session: name, comment: cursor + 1, kind: action.kind }, 'comment delivered to the agent');
    }
    state = { ...state, commentCursor: cursor };
    return undefined;
  }

  /** A person's `stop`: the agent stops gracefully (its conversation kept), then the card is blocked. */
  async function stopAgent(author: string, current: CardSnapshot): Promise<LaneState> {
    const at = isoSeconds(Date.now());
    try {
      await stopSession(lifecycle, { session: name, reason: `stop requested on card ${board.cardId} by ${author}`, purge: false, yes: false, forceNoYaml: false, server });
    } catch (error) {
      log.warn({ err: errorMessage(error) }, 'stopping the agent failed');
    }
    return {
      ...state,
      finish: {
        kind: 'block',
        reason: `stop-requested by user at ${at}; ${agent} was stopped (its conversation is kept). \`hermes kanban unblock ${board.cardId}\` resumes it`,
        blockKind: nextBlockKind(current.comments),
      },
    };
  }

  async function checkAlive(): Promise<void> {
    const pane = await sessionPane(server, name, lifecycle.tmux);
    if (pane && !pane.dead) return;
    const dead = pane?.dead ? await deadPane(server, sessionTarget(name), lifecycle.tmux) : undefined;
    const entry = await entryOf();
    if (entry?.status === 'stopped' && !pane) return void (state = { ...state, finish: { kind: 'block', reason: `${name} was stopped outside the lane (${entry.stop_reason ?? 'no reason'}); \`hermes kanban unblock ${board.cardId}\` resumes it`, blockKind: nextBlockKind(card.comments) } });
    const status = dead?.status ?? pane?.deadStatus ?? entry?.exit_status ?? null;
    const how = pane ? `${agent} exited${status === null ? '' : ` with status ${status}`}` : `tmux session ${name} is gone`;
    if (state.resumed < 1 && entry) {
      state = { ...state, resumed: state.resumed + 1 };
      await save();
      try {
        await resumeAgent(entry, `${how}; resumed once into its conversation`);
        return;
      } catch (error) {
        log.warn({ err: errorMessage(error) }, 'resuming the dead agent failed');
      }
    }
    const screen = lastScreenLines(dead?.screen ?? entry?.last_visible_status ?? '', SCREEN_LINES);
    state = {
      ...state,
      finish: {
        kind: 'block',
        reason: `${how}${state.resumed > 0 ? ' after it was resumed once' : ''}. Last screen:\n${screen.map((line) => `> ${line}`).join('\n') || '(none)'}\n\`mam resume ${name}\` starts it again`,
        blockKind: nextBlockKind(card.comments),
      },
    };
  }

  /** An approval wait past the alert is told once (tool and command); past the block threshold, with nobody attached, it blocks. */
  async function checkApproval(now: number): Promise<void> {
    const approval = await approvalOf();
    if (!approval) return;
    const since = isoSeconds(approval.sinceMs);
    const waited = now - approval.sinceMs;
    if (waited >= settings.approvalAlertMs && state.approvalTold !== since) {
      state = {
        ...enqueue(state, `${label} has been waiting ${waitedFor(waited)} for approval (since ${since}): ${approval.what}. Attach to answer it: \`${attachHint(name)}\`.`),
        approvalTold: since,
      };
    }
    if (waited >= settings.approvalBlockMs && state.approvalBlocked !== since && !(await attached())) {
      state = {
        ...state,
        approvalBlocked: since,
        finish: { kind: 'block', reason: `${agent} has waited ${waitedFor(waited)} for approval (${approval.what}) and nobody is attached. \`${attachHint(name)}\` to answer, then \`hermes kanban unblock ${board.cardId}\``, blockKind: 'needs_input' },
      };
    }
  }

  async function attached(): Promise<boolean> {
    const result = await runTmux(server, ['display-message', '-p', '-t', sessionTarget(name), '#{session_attached}'], lifecycle.tmux);
    return result.exitCode === 0 && Number(result.stdout.trim()) > 0;
  }

  /** The agent's approval wait: from its hooks' facts (tool and command), else from its pane (the dialog's last lines). */
  async function approvalOf(): Promise<{ sinceMs: number; what: string } | undefined> {
    const entry = await entryOf();
    const kind = entry ? agentKind(entry.agent) : undefined;
    const id = entry && kind ? entry[kind.conversationIdField] : undefined;
    if (entry && id) {
      const dir = statusDir(io.env);
      const facts = await readAgentFacts(dir, id, await listStatusDir(dir));
      for (const fact of Object.values(facts)) {
        if (!fact.needs_approval_since) continue;
        const tool = Object.values(fact.tools).find((candidate) => candidate.status === 'needs_approval');
        const what = tool ? `${tool.tool_name}${tool.command ? `: ${tool.command}` : tool.input ? ` ${tool.input.slice(0, 200)}` : ''}` : 'a tool';
        return { sinceMs: Date.parse(fact.needs_approval_since), what };
      }
      if (Object.keys(facts).length > 0) return undefined;
    }
    if (!entry) return undefined;
    const target = paneTarget(entry, undefined);
    if (!target) return undefined;
    const reading = (await panes.sample([target])).get(name);
    if (reading?.status !== 'needs_approval' || reading.since === undefined) return undefined;
    const screen = lastScreenLines((await capturePane(server, name, 0, lifecycle.tmux)) ?? '', 6).map((line) => line.trim());
    return { sinceMs: reading.since, what: `the dialog on screen: ${screen.join(' / ')}` };
  }

  async function liveStatus(): Promise<LiveStatus> {
    const entry = await entryOf();
    const kind = entry ? agentKind(entry.agent) : undefined;
    const id = entry && kind ? entry[kind.conversationIdField] : undefined;
    let activity: string | null = null;
    let limitedUntil: string | null = null;
    if (id) {
      const dir = statusDir(io.env);
      const agents = await readAgentFacts(dir, id, await listStatusDir(dir));
      activity = agentsActivity(agents) ?? null;
      limitedUntil = agents['main']?.limit?.until ?? null;
    }
    if (!activity && entry) {
      const target = paneTarget(entry, undefined);
      if (target) activity = (await panes.sample([target])).get(name)?.status ?? null;
    }
    const job = state.jobId && state.jobDir ? await readJob(state.jobDir, state.jobId).then((file) => file.status, () => null) : null;
    return { activity, approval: await approvalOf(), limitedUntil: activity === 'limited' ? limitedUntil : null, job };
  }

  async function sendOutbox(cardChecked: boolean): Promise<void> {
    while (state.outbox.length > 0) {
      const [next, ...rest] = state.outbox;
      // A send whose outcome was unknown is retried only once the card shows it did not land.
      if (next!.tried && !cardChecked) return;
      try {
        await board.comment(next!.text);
        clear('comment');
        state = { ...state, outbox: rest };
      } catch (error) {
        const ambiguous = error instanceof BoardError ? error.ambiguous : true;
        warnOnce('comment', `comment #${next!.seq} not delivered yet (kept, will retry): ${errorMessage(error)}`);
        state = { ...state, outbox: [{ ...next!, tried: next!.tried || ambiguous }, ...rest] };
        return;
      }
    }
  }

  /** Completes or blocks the card as saved in `state.finish`; false when the board did not take it (retried). */
  async function finish(): Promise<boolean> {
    const end = state.finish!;
    try {
      if (end.kind === 'complete') await board.complete(end.summary);
      else await board.block(end.reason, end.blockKind);
      clear('finish');
      log.info({ card: board.cardId, how: end.kind }, end.kind === 'complete' ? 'card completed' : 'card blocked');
      return true;
    } catch (error) {
      warnOnce('finish', `could not ${end.kind} card ${board.cardId} yet (kept, will retry): ${errorMessage(error)}`);
      return false;
    }
  }

  /** After the card is done the agent is stopped gracefully (`mam resume` brings it back); a block leaves it running. */
  async function afterFinish(): Promise<void> {
    if (state.finish?.kind !== 'complete') return;
    const entry = await entryOf();
    if (entry?.status !== 'running') return;
    await stopSession(lifecycle, { session: name, reason: `card ${board.cardId} done`, purge: false, yes: false, forceNoYaml: false, server }).catch((error: unknown) =>
      log.warn({ err: errorMessage(error) }, 'could not stop the agent after the card was done'),
    );
  }

  async function entryOf(): Promise<RegistryEntry | undefined> {
    return (await readRegistry(lifecycle.registryFile)).entries.find((entry) => entry.name === name);
  }

  function jobOf(entry: RegistryEntry): Pick<LaneState, 'jobId' | 'jobDir'> {
    return { jobId: entry.delegate_job_id ?? state.jobId, jobDir: entry.delegate_job_registry ?? state.jobDir };
  }

  function jobContextDir(): string {
    return jobContext({ env: io.env, cwd: run.workspace, registryFile: lifecycle.registryFile, registryDir: undefined, clientId: '', warn: () => undefined }).dir;
  }
}

/**
 * A goal card's budget: the dispatcher's `HERMES_KANBAN_GOAL_MAX_TURNS` for the card it spawned us for, else what the
 * card's `created` event says; Hermes' default of 20 turns when unset. Not a goal card: undefined.
 */
export function goalBudget(env: NodeJS.ProcessEnv, card: Pick<CardSnapshot, 'id' | 'goal'>): GoalBudget | undefined {
  const limits = runLimits(env);
  if (limits.goalMode && env['HERMES_KANBAN_TASK'] === card.id) return { maxTurns: limits.goalMaxTurns };
  if (!card.goal) return undefined;
  return { maxTurns: card.goal.maxTurns ?? runLimits({}).goalMaxTurns };
}

/** The card's lane settings: `interval:`, `heartbeat:`, `approval_alert:`, `approval_block:`, `progress_every:` lines. */
export function laneSettings(card: Pick<CardSnapshot, 'body' | 'comments'>, self: string, flags: LaneFlags): LaneSettings {
  const base = { ...DEFAULT_SETTINGS, intervalMs: DEFAULT_LANE_SETTINGS.intervalMs, heartbeatMs: DEFAULT_LANE_SETTINGS.heartbeatMs, approvalAlertMs: DEFAULT_LANE_SETTINGS.approvalAlertMs };
  const { settings } = settingsFromCard(card, (comment) => isForAgent(comment, self), base);
  const texts = [card.body, ...card.comments.filter((comment) => isForAgent(comment, self)).map((comment) => comment.body)];
  const extra = (key: string, fallback: number): number => {
    let value = fallback;
    for (const text of texts) {
      for (const line of text.split('\n')) {
        const match = new RegExp(`^\\s*(?:[-*]\\s+)?\`?${key}\`?\\s*[:=]\\s*(.+?)\\s*$`, 'i').exec(line);
        const ms = match ? parseDuration(match[1]!.replace(/^["'`]|["'`]$/g, '')) : undefined;
        if (ms !== undefined && ms >= 1000) value = ms;
      }
    }
    return value;
  };
  return {
    intervalMs: flags.intervalMs ?? settings.intervalMs,
    heartbeatMs: flags.heartbeatMs ?? settings.heartbeatMs,
    approvalAlertMs: flags.approvalAlertMs ?? settings.approvalAlertMs,
    approvalBlockMs: extra('approval_block', DEFAULT_LANE_SETTINGS.approvalBlockMs),
    progressEveryMs: extra('progress_every', DEFAULT_LANE_SETTINGS.progressEveryMs),
  };
}
