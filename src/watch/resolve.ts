import { derive, type Applied, type Facts } from '../facts/derive.js';
import type { LiveState } from '../agents/types.js';
import type { AgentFact, AgentStatus, ToolFact } from '../facts/schema.js';
import type { TranscriptEvent } from './transcript.js';

/**
 * The watcher's half of status derivation (docs/status.md, 'What no hook reports'): what no hook reports, resolved
 * from what the watcher observed. Pure: facts + observation + clock → facts.
 *
 * - A rejected or interrupted tool, and Esc while streaming, leave no hook behind; the transcript says so.
 * - An approved permission dialog fires no hook either; the tool's line reaching the transcript (usually held
 *   back while the dialog is open) or its command appearing in the agent's process tree says so. On a loaded machine
 *   Claude writes that line while the dialog is still up, so a line that arrives while the pane still shows the
 *   dialog (`dialogOpen`) says nothing; the screen is then read until the dialog closes (`tracksDialog`). Claude's
 *   live record says it first: `waiting` while a dialog shows, `busy` as it closes allowed (`dialogAnswered`).
 * - A killed agent fires no SessionEnd; its pid (checked with its start time) says so.
 * - Esc before the model's first token ends the turn with no hook and no transcript line (Claude puts the prompt
 *   back in the input box); only the screen says so, and it is read for exactly that case (`screenWait`).
 * - Esc in Gemini's confirmation dialog fires no hook either: for an agent whose patterns say so, an approval wait
 *   is the other state the screen is read for.
 */
export interface Observation {
  /** Whether the agent process is still the one the hooks recorded; undefined when there is no pid to check. */
  readonly alive: boolean | undefined;
  /** New transcript events per agent key (`main`, or a subagent's id), in file order. */
  readonly transcript: Readonly<Record<string, readonly TranscriptEvent[]>>;
  /** Ids of tools waiting for approval whose command is now running under the agent. */
  readonly running: ReadonlySet<string>;
  /**
   * What the agent's pane showed on two reads in a row, when the watcher read it (see `screenWait`); undefined
   * when it did not look, could not, or the two reads disagreed.
   */
  readonly screen?: AgentStatus | undefined;
  /** What the agent's own live record says (Claude's `sessions/<pid>.json` `status`), where it keeps one. */
  readonly live?: LiveState | undefined;
  /**
   * Whether the agent's pane still showed its approval dialog when a transcript line naming a tool that waits for
   * approval arrived (false when it has no pane to read); undefined when no such line arrived.
   */
  readonly dialogOpen?: boolean | undefined;
  /**
   * The agent's live record said a dialog showed during this approval wait and now says busy: the dialog was answered
   * yes (Claude writes `busy` the moment the dialog closes).
   */
  readonly dialogAnswered?: boolean | undefined;
  /**
   * Without a live record: whether a background shell the main agent's last Stop named still runs under it (its
   * command in the process tree); undefined when not looked or not known.
   */
  readonly backgroundRunning?: boolean | undefined;
}

/**
 * Background work starting or ending, as the watcher sees it (docs/status.md, 'Background work'): `ended` when the
 * main agent works only on what its turn left running and the agent's record says it is idle (or, with no record,
 * none of those shells runs any more); `started` when it waits but its record says a background shell runs (a Stop
 * that listed no `background_tasks`, as older Claude versions send). Pure, so the watcher writes only on a change.
 */
export function backgroundChange(facts: Facts, observation: Pick<Observation, 'live' | 'backgroundRunning'>): 'ended' | 'started' | undefined {
  const main = facts.agents['main'];
  if (!main || Object.keys(main.tools).length > 0) return undefined;
  if (main.status === 'working' && main.background.length > 0) {
    if (observation.live !== undefined) return observation.live === 'idle' ? 'ended' : undefined;
    return observation.backgroundRunning === false ? 'ended' : undefined;
  }
  if (main.status === 'waiting' && main.background.length === 0 && observation.live === 'background') return 'started';
  return undefined;
}

/** The shell commands among the main agent's background work (`shell: <command>`), for the process-tree check; cut ones are left out. */
export function backgroundCommands(fact: AgentFact | undefined): string[] {
  return (fact?.background ?? []).flatMap((line) => (line.startsWith('shell: ') && !line.endsWith('…') ? [line.slice('shell: '.length)] : []));
}

/** How long a turn must have been silent (no hook, no transcript line) before its screen is worth a look. */
export const SCREEN_CHECK_QUIET_MS = 3_000;

/**
 * A state only the agent's screen can end. `silent-turn`: the main agent working alone with no tool open (Claude's
 * Esc before the first token); an idle screen ends it. `approval`: some agent waits on an approval whose dialog can
 * close with no hook (`approvalClosesUnseen` in the agent's patterns: Gemini's Esc); a screen without the dialog
 * ends it, idle → waiting, busy → working.
 */
export type ScreenWait = 'silent-turn' | 'approval';

/** The state of `facts` that only the screen can end, if any; there is none without a pane to read. */
export function screenWait(facts: Facts, approvalClosesUnseen: boolean): ScreenWait | undefined {
  if (facts.session?.pane === null || facts.session?.pane === undefined) return undefined;
  const main = facts.agents['main'];
  // A turn that ended with work in the background shows the idle prompt too, and rightly works on.
  if (main?.status === 'working' && Object.keys(main.tools).length === 0 && main.background.length === 0 && Object.keys(facts.agents).length === 1) return 'silent-turn';
  if (approvalClosesUnseen && Object.values(facts.agents).some((fact) => fact.status === 'needs_approval')) return 'approval';
  return undefined;
}

/**
 * Whether the screen is worth a look: the facts are in a `screenWait` state and have been silent since
 * `quietSince` for SCREEN_CHECK_QUIET_MS. A model that streams or thinks for minutes is silent too; its screen
 * shows the busy line, so a look changes nothing but costs one tmux call.
 */
export function screenCheckWanted(facts: Facts, quietSince: number, now: number, approvalClosesUnseen = false): boolean {
  return screenWait(facts, approvalClosesUnseen) !== undefined && now - quietSince >= SCREEN_CHECK_QUIET_MS;
}

/** What a screen read during `wait` must show, twice in a row, to end it. */
export function screenEnds(wait: ScreenWait, seen: AgentStatus | undefined): boolean {
  return seen === 'waiting' || (wait === 'approval' && seen === 'working');
}

export function resolveFacts(facts: Facts, observation: Observation, now: number): Applied {
  if (observation.alive === false) return { facts: { session: facts.session, agents: {} }, ended: true };
  const at = new Date(now).toISOString();
  // Events older than the newest hook were already accounted for by that hook (or superseded by it).
  const since = facts.session?.transcript_offset ?? 0;
  let agents: Record<string, AgentFact> = { ...facts.agents };
  const set = (key: string, tools: Record<string, ToolFact>, fallback: AgentStatus): void => {
    const before = agents[key];
    if (!before) return;
    const status = derive(tools, fallback);
    const next: AgentFact = {
      ...before,
      tools,
      status,
      needs_approval_since: status === 'needs_approval' ? (before.needs_approval_since ?? at) : null,
      updated_at: at,
    };
    if (JSON.stringify({ ...next, updated_at: before.updated_at }) !== JSON.stringify(before)) agents[key] = next;
  };

  for (const [key, events] of Object.entries(observation.transcript)) {
    for (const event of events) {
      const fact = agents[key];
      // A limit is left only by the next prompt (UserPromptSubmit): the failed turn's own lines change nothing.
      if (key === 'main' && fact?.status === 'limited') continue;
      if (event.kind === 'interrupt' && key === 'main' && event.offset >= since) {
        // Esc stops the foreground turn and every subagent in it; background ones re-appear with their next hook,
        // and background shells run on.
        const main = agents['main'];
        agents = main ? { main } : {};
        set('main', {}, afterTurn(main));
        continue;
      }
      if (event.kind === 'turn-end' && key === 'main' && event.offset >= since) {
        set('main', {}, afterTurn(agents['main']));
        continue;
      }
      if (!fact) continue;
      if (event.kind === 'tool-use') {
        const tools = { ...fact.tools };
        // A PermissionRequest that found no PreToolUse to match was filed under a made-up key; this line names it.
        const orphan = Object.keys(tools).find((id) => id.startsWith(`permission:${event.name}@`));
        if (!tools[event.id] && orphan) {
          tools[event.id] = tools[orphan]!;
          delete tools[orphan];
        }
        const tool = tools[event.id];
        // Only the main transcript is known to hold the line back, and only its offsets compare with the hooks'.
        if (tool?.status === 'needs_approval' && key === 'main' && event.offset >= since && observation.dialogOpen !== true) tools[event.id] = { ...tool, status: 'working' };
        set(key, tools, fact.status);
      } else if (event.kind === 'tool-result' && fact.tools[event.id]) {
        const { [event.id]: _closed, ...tools } = fact.tools;
        // The agent carries on after a tool closes, whatever it was waiting for.
        set(key, tools, fact.status === 'needs_approval' ? 'working' : fact.status);
      }
    }
  }

  // The watcher reads the screen only in a `screenWait` state of this agent; the facts may have moved on since.
  const wait = screenWait({ session: facts.session, agents }, true);
  if (wait === 'silent-turn' && observation.screen === 'waiting') set('main', {}, 'waiting');
  if (wait === 'approval' && observation.screen === 'waiting') {
    // The dialog closed unanswered (Esc) and the agent is back at its prompt: the turn is over, as after an interrupt.
    const main = agents['main'];
    agents = main ? { main } : {};
    set('main', {}, 'waiting');
  }
  if (wait === 'approval' && observation.screen === 'working') {
    // The dialog closed and the agent is busy: allowed, the tool runs.
    for (const [key, fact] of Object.entries(agents)) {
      set(key, Object.fromEntries(Object.entries(fact.tools).map(([id, tool]) => [id, tool.status === 'needs_approval' ? { ...tool, status: 'working' as const } : tool])), fact.status === 'needs_approval' ? 'working' : fact.status);
    }
  }
  const background = backgroundChange({ session: facts.session, agents }, observation);
  if (background && agents['main']) {
    // `started` has no list to show (the record says only that a shell runs), so it says just that.
    agents['main'] = { ...agents['main'], status: background === 'ended' ? 'waiting' : 'working', background: background === 'ended' ? [] : ['shell: (running)'], updated_at: at };
  }

  // The record does not say which dialog was answered: with more than one approval waiting, the other signals decide.
  const waitingTools = waitingApprovals(agents);
  const answered = observation.dialogAnswered === true && waitingTools.length === 1 ? waitingTools[0] : undefined;
  for (const [key, fact] of Object.entries(agents)) {
    const approved = Object.entries(fact.tools).filter(([id, tool]) => tool.status === 'needs_approval' && (observation.running.has(id) || (answered?.key === key && answered.id === id)));
    if (approved.length === 0) continue;
    set(key, { ...fact.tools, ...Object.fromEntries(approved.map(([id, tool]) => [id, { ...tool, status: 'working' as const }])) }, fact.status);
  }
  return { facts: { session: facts.session, agents }, ended: false };
}

/** Every tool waiting for approval, with the key of its agent (`main`, or a subagent's id). */
export function waitingApprovals(agents: Facts['agents']): { readonly key: string; readonly id: string }[] {
  return Object.entries(agents).flatMap(([key, fact]) => Object.entries(fact.tools).flatMap(([id, tool]) => (tool.status === 'needs_approval' ? [{ key, id }] : [])));
}

/**
 * Whether this transcript read could end an approval wait of the main agent by a tool's line alone (see
 * `resolveFacts`): the case where the watcher first looks at the pane for the dialog.
 */
export function approvalLineArrived(facts: Facts, transcript: Observation['transcript']): boolean {
  const main = facts.agents['main'];
  if (!main || main.status !== 'needs_approval') return false;
  const since = facts.session?.transcript_offset ?? 0;
  return (transcript['main'] ?? []).some((event) => event.kind === 'tool-use' && event.offset >= since && (main.tools[event.id]?.status === 'needs_approval' || Object.keys(main.tools).some((id) => id.startsWith(`permission:${event.name}@`))));
}

/** How a turn that ended leaves the agent: still working while work it started runs in the background. */
function afterTurn(main: AgentFact | undefined): AgentStatus {
  return main && main.background.length > 0 ? 'working' : 'waiting';
}

/** Tools waiting for approval that carry a command, for the process-tree check. */
export function pendingCommands(facts: Facts): { readonly id: string; readonly command: string }[] {
  return Object.values(facts.agents).flatMap((fact) =>
    Object.entries(fact.tools).flatMap(([id, tool]) => (tool.status === 'needs_approval' && tool.command ? [{ id, command: tool.command }] : [])),
  );
}

/**
 * Whether one of these processes runs `command`: as its whole argv, as the whole script of a `sh -c`, quoted
 * whole inside one (Claude runs Bash commands as `bash -c … eval '<command>' …`, single quotes escaped as '\''), or
 * as a whole line of a multi-line one. A
 * mere substring is not enough: `ls` is in every path under `tools/`.
 */
export function commandRunning(command: string, cmdlines: readonly (readonly string[])[]): boolean {
  const quoted = [`'${command.replace(/'/g, `'\\''`)}'`, `'${command.replace(/'/g, `'"'"'`)}'`, `"${command.replace(/(["\\$`])/g, '\\$1')}"`];
  // Gemini runs it as one line of a script of its own (`bash -c "_bgpids_file=…\n(\n  trap …\n<command>\n)…"`).
  const aLine = (arg: string): boolean => arg.includes('\n') && arg.split('\n').some((line) => line.trim() === command);
  return cmdlines.some((argv) => argv.join(' ') === command || argv.some((arg) => arg === command || quoted.some((form) => arg.includes(form)) || aLine(arg)));
}
