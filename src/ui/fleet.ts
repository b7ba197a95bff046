import type { AgentFact } from '../facts/schema.js';
import type { AgentStatusMessage } from '../mqtt/status-message.js';
import type { StatusRow } from '../status/report.js';
import { clockTime } from '../util/table.js';

/**
 * The dashboard's rows as plain data (docs/ui.md, 'What each state means'): one row per session from the local
 * status report and from other hosts' retained status messages, its state, since when, and the needs-you-first
 * order. Pure: no I/O and no clock but the `now` passed in.
 */
export type FleetState = 'needs_approval' | 'limited' | 'gone' | 'dead' | 'unknown' | 'waiting' | 'running' | 'working' | 'starting' | 'stopped';

export type StateColor = 'red' | 'magenta' | 'yellow' | 'cyan' | 'green' | 'blue' | 'gray';

export interface StateStyle {
  readonly label: string;
  /** One column wide in every terminal, so the table does not shift; the label says the same without colour. */
  readonly symbol: string;
  readonly color: StateColor;
  /** Needs-you-first: lower comes first. */
  readonly rank: number;
}

export const STATE_STYLE: Readonly<Record<FleetState, StateStyle>> = {
  needs_approval: { label: 'needs approval', symbol: '!', color: 'red', rank: 0 },
  gone: { label: 'gone', symbol: '✗', color: 'red', rank: 1 },
  dead: { label: 'dead', symbol: '†', color: 'magenta', rank: 2 },
  unknown: { label: 'unknown', symbol: '?', color: 'yellow', rank: 3 },
  // Stopped on a usage limit: after what is broken, before what merely waits (it may resume by itself).
  limited: { label: 'limited', symbol: '∥', color: 'magenta', rank: 4 },
  waiting: { label: 'waiting', symbol: '…', color: 'cyan', rank: 5 },
  running: { label: 'running', symbol: '○', color: 'blue', rank: 6 },
  working: { label: 'working', symbol: '●', color: 'green', rank: 7 },
  starting: { label: 'starting', symbol: '◌', color: 'blue', rank: 8 },
  stopped: { label: 'stopped', symbol: '■', color: 'gray', rank: 9 },
};

/** A tool call waiting on a person's approval, from the hooks' fact files. */
export interface PendingApproval {
  /** `main`, or the subagent's id. */
  readonly agent: string;
  readonly tool: string;
  readonly command: string | null;
  /** The tool input as JSON, when there is no command line to show. */
  readonly input: string | null;
}

export interface FleetRow {
  /** Unique across hosts: host and name. */
  readonly key: string;
  readonly name: string;
  readonly agent: string;
  readonly host: string;
  /** Registered here: the keys act on it. Other hosts' rows are shown only. */
  readonly local: boolean;
  readonly state: FleetState;
  /** Epoch ms the state began, when a source says (a hook's or the registry's timestamp). */
  readonly stateSince: number | undefined;
  readonly workspace: string;
  /** `<job id> <job state>` for a delegated job. */
  readonly job: string | null;
  /** Said after the state's label: `background` (working only on what its turn left running), `until 15:05` (limited). */
  readonly note?: string | null;
  readonly approvals: readonly PendingApproval[];
  /** Where the activity came from: hooks' fact files, the pane, another host's status message, or nowhere. */
  readonly source: 'hooks' | 'pane' | 'mqtt' | null;
}

export const rowKey = (host: string, name: string): string => `${host}\u0000${name}`;

/** A status report row's state: the registry's status, whether tmux has it, and what the agent is doing. */
export function stateOf(row: Pick<StatusRow, 'status' | 'tmux' | 'activity'>): FleetState {
  if (row.status === 'starting') return 'starting';
  if (row.status === 'stopped') return 'stopped';
  if (row.status === 'terminated') return 'dead';
  if (row.tmux === 'gone') return 'gone';
  if (row.tmux === 'unknown') return 'unknown';
  if (row.activity === 'needs_approval' || row.activity === 'working' || row.activity === 'waiting' || row.activity === 'limited') return row.activity;
  return 'running';
}

const epoch = (iso: string | null | undefined): number | undefined => {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
};

/**
 * The local rows. `facts`: each running session's agent facts by session name (for the pending approval and
 * for when its activity began); `host`: this machine's name.
 */
export function localRows(sessions: readonly StatusRow[], facts: ReadonlyMap<string, Readonly<Record<string, AgentFact>>>, host: string): FleetRow[] {
  const note = (row: StatusRow, state: FleetState): string | null =>
    state === 'working' && (row.background ?? []).length > 0 ? 'background' : state === 'limited' && row.limited_until ? `until ${clockTime(row.limited_until)}` : null;
  return sessions.map((row) => {
    const state = stateOf(row);
    const agents = Object.entries(facts.get(row.name) ?? {});
    const fromHooks = row.activity_source === 'hooks';
    const approvals = agents.flatMap(([agent, fact]) =>
      Object.values(fact.tools)
        .filter((tool) => tool.status === 'needs_approval')
        .map((tool) => ({ agent, tool: tool.tool_name, command: tool.command, input: tool.input })),
    );
    let stateSince: number | undefined;
    if (state === 'needs_approval' && fromHooks) stateSince = min(agents.map(([, fact]) => epoch(fact.needs_approval_since)));
    else if ((state === 'working' || state === 'waiting' || state === 'limited') && fromHooks) stateSince = max(agents.map(([, fact]) => epoch(fact.updated_at)));
    else if (state === 'stopped' || state === 'dead' || state === 'starting' || state === 'running') stateSince = epoch(row.since);
    return {
      key: rowKey(host, row.name),
      name: row.name,
      agent: row.agent,
      host,
      local: true,
      state,
      stateSince,
      workspace: row.workspace,
      job: row.job ? `${row.job.id} ${row.job.status}` : null,
      approvals: state === 'needs_approval' ? approvals : [],
      source: row.activity_source,
      note: note(row, state),
    };
  });
}

/** Other hosts' sessions from their retained status messages; this host's own are the local rows already. */
export function remoteRows(messages: readonly AgentStatusMessage[], ownHost: string): FleetRow[] {
  return messages.flatMap((message): FleetRow[] => {
    if (message.host === ownHost || message.status === 'gone') return [];
    const state: FleetState = message.status;
    return [
      {
        key: rowKey(message.host, message.session),
        name: printable(message.session),
        agent: printable(message.agent),
        host: printable(message.host),
        local: false,
        state,
        stateSince: epoch(state === 'needs_approval' ? (message.needs_approval_since ?? message.updated_at) : message.updated_at),
        workspace: printable(message.cwd ?? '-'),
        job: null,
        approvals: [],
        source: 'mqtt',
      },
    ];
  });
}

/** Other hosts write these strings: no terminal escapes or line breaks from them reach the screen. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/**
 * Since when each row has been in its state. A row whose state is unchanged keeps what it had; one that changed
 * (or is new) takes its source's timestamp, else now — or, seen for the first time with nothing to say when, none.
 */
export function trackSince(previous: ReadonlyMap<string, { readonly state: FleetState; readonly since: number | undefined }>, rows: readonly FleetRow[], now: number): Map<string, { state: FleetState; since: number | undefined }> {
  const next = new Map<string, { state: FleetState; since: number | undefined }>();
  for (const row of rows) {
    const before = previous.get(row.key);
    const hint = row.stateSince !== undefined && row.stateSince <= now ? row.stateSince : undefined;
    if (before && before.state === row.state) next.set(row.key, { state: row.state, since: before.since ?? hint });
    else next.set(row.key, { state: row.state, since: hint ?? (before ? now : undefined) });
  }
  return next;
}

/** Needs-you-first: by state rank, then longest in that state, then name and host. */
export function orderRows(rows: readonly FleetRow[], since: (row: FleetRow) => number | undefined): FleetRow[] {
  return [...rows].sort((a, b) => {
    const rank = STATE_STYLE[a.state].rank - STATE_STYLE[b.state].rank;
    if (rank !== 0) return rank;
    const [sa, sb] = [since(a) ?? Infinity, since(b) ?? Infinity];
    if (sa !== sb) return sa < sb ? -1 : 1;
    return a.name.localeCompare(b.name) || a.host.localeCompare(b.host);
  });
}

/** A case-insensitive substring of any shown field: name, agent, state, workspace, job or host. */
export function matchesFilter(row: FleetRow, filter: string): boolean {
  const wanted = filter.trim().toLowerCase();
  if (wanted === '') return true;
  return [row.name, row.agent, STATE_STYLE[row.state].label, row.workspace, row.job ?? '', row.host].some((field) => field.toLowerCase().includes(wanted));
}

function min(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

function max(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}
