import { formatAge } from '../util/table.js';
import { STATE_STYLE, type FleetRow, type FleetState, type StateColor } from './fleet.js';
import { selectedIndex, type ViewState } from './view.js';

/**
 * One screen of the dashboard as lines of styled text (docs/ui.md): the model → frame step, pure, so it is tested
 * and timed without a terminal. The shell (./app.ts) only turns segments into ink's <Text>. Colour is an
 * attribute a segment may carry; with `color: false` (NO_COLOR) none does, and the symbol and label carry the state.
 */
export interface Segment {
  readonly text: string;
  readonly color?: StateColor;
  readonly bold?: boolean;
  readonly dim?: boolean;
  /** The selected row; kept without colour too (it is not a colour), beside the `>` marker. */
  readonly inverse?: boolean;
}

export type Line = readonly Segment[];

export interface FrameInput {
  /** The rows to list: filtered and in needs-you-first order. */
  readonly rows: readonly FleetRow[];
  /** How many sessions there are before the filter. */
  readonly total: number;
  readonly since: (row: FleetRow) => number | undefined;
  readonly view: ViewState;
  readonly now: number;
  readonly width: number;
  /** Lines available: the frame uses one fewer (ink redraws the whole screen once output reaches its height). */
  readonly height: number;
  readonly color: boolean;
  /** What the header names: the registry file, and whether other hosts are listened to. */
  readonly registry: string;
  readonly hosts: string | undefined;
  /** Shown as `~` in workspaces. */
  readonly home: string;
  /** No snapshot yet: the list is being read, not empty. */
  readonly loading: boolean;
}

export interface Frame {
  readonly lines: readonly Line[];
  /** The scroll position used (the view keeps it, so the list does not jump). */
  readonly scroll: number;
  /** Rows that fit on one page. */
  readonly page: number;
}

/** Lines above and below the list: title, column header; message, key hints. */
const CHROME = 4;

export function buildFrame(input: FrameInput): Frame {
  const height = Math.max(CHROME + 1, input.height - 1);
  const page = height - CHROME;
  const style = styler(input.color);
  const body = bodyLines(input, page, style);
  const lines: Line[] = [titleLine(input, style), ...body.header, ...body.lines];
  while (lines.length < height - 2) lines.push([]);
  lines.push(messageLine(input, style), hintLine(input, style));
  return { lines: lines.slice(0, height).map((line) => clip(line, input.width)), scroll: body.scroll, page };
}

/** The frame as plain text, one string per line (tests, the benchmark, the start-up probe). */
export function frameText(frame: Frame): string[] {
  return frame.lines.map((line) => line.map((segment) => segment.text).join(''));
}

type Style = (text: string, attributes?: Omit<Segment, 'text'>) => Segment;

function styler(color: boolean): Style {
  return (text, attributes = {}) => {
    const { color: hue, ...rest } = attributes;
    return color && hue ? { text, color: hue, ...rest } : { text, ...rest };
  };
}

function titleLine(input: FrameInput, style: Style): Line {
  const counts = new Map<FleetState, number>();
  for (const row of input.rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
  const parts = (Object.keys(STATE_STYLE) as FleetState[])
    .filter((state) => counts.has(state))
    .flatMap((state, index) => [style(index === 0 ? '' : ' · '), style(`${counts.get(state)} ${STATE_STYLE[state].label}`, { color: STATE_STYLE[state].color })]);
  const registry = tilde(input.registry, input.home);
  if (input.loading) return [style('mam ui', { bold: true }), style('  reading the fleet…'), style(`   ${registry}`, { dim: true })];
  const shown = input.rows.length === input.total ? `${input.total} session${input.total === 1 ? '' : 's'}` : `${input.rows.length} of ${input.total} sessions`;
  return [style('mam ui', { bold: true }), style(`  ${shown}${parts.length > 0 ? ': ' : ''}`), ...parts, style(`   ${registry}${input.hosts ? ` + ${input.hosts}` : ''}`, { dim: true })];
}

const HEADER = ['STATE', 'FOR', 'NAME', 'AGENT', 'WORKSPACE', 'JOB', 'HOST'] as const;
/** Columns that give up width first when the terminal is narrow, and how narrow they may get. */
const SHRINK: readonly { readonly column: number; readonly min: number }[] = [
  { column: 4, min: 8 },
  { column: 5, min: 3 },
  { column: 6, min: 4 },
  { column: 2, min: 10 },
  { column: 3, min: 4 },
];

/** `~` for the home directory, as a person writes a path. */
function tilde(file: string, home: string): string {
  return home !== '/' && home !== '' && (file === home || file.startsWith(`${home}/`)) ? `~${file.slice(home.length)}` : file;
}

function cells(row: FleetRow, input: FrameInput): string[] {
  const since = input.since(row);
  const age = since === undefined ? '-' : formatAge(Math.max(0, Math.floor((input.now - since) / 1000)));
  const look = STATE_STYLE[row.state];
  const workspace = row.local ? tilde(row.workspace, input.home) : row.workspace;
  return [`${look.symbol} ${look.label}${row.note ? ` (${row.note})` : ''}`, age, row.name, row.agent, workspace, row.job ?? '-', row.host];
}

function bodyLines(input: FrameInput, page: number, style: Style): { header: Line[]; lines: Line[]; scroll: number } {
  const { view } = input;
  if (view.mode === 'help') return { header: [[style('Keys', { bold: true })]], lines: HELP.map((text) => [style(text)]), scroll: view.scroll };
  if (view.mode === 'approval') return { header: [[style('Pending approval', { bold: true })]], lines: approvalLines(input, style), scroll: view.scroll };
  if (view.mode === 'create') return { header: [[style('New session', { bold: true }), style('  Tab: next field · Enter: create · Esc: cancel', { dim: true })]], lines: formLines(input, style), scroll: view.scroll };

  const table = input.rows.map((row) => cells(row, input));
  const widths = columnWidths(table, input.width - 2);
  const line = (values: readonly string[]): string => values.map((value, column) => fit(value, widths[column]!, column === 4)).join('  ');
  const header: Line[] = [[style(`  ${line(HEADER)}`, { bold: true })]];
  if (input.rows.length === 0) {
    const empty = input.loading ? '  reading the registry and tmux…' : input.total === 0 ? `  no sessions registered in ${input.registry} yet: press n to create one` : `  no session matches "${view.filter}" (Esc clears the filter)`;
    return { header, lines: [[style(empty, { dim: true })]], scroll: 0 };
  }
  const selected = selectedIndex(view, input.rows);
  const scroll = scrollFor(view.scroll, selected, page, input.rows.length);
  const lines = input.rows.slice(scroll, scroll + page).map((row, offset): Line => {
    const values = table[scroll + offset]!;
    const chosen = scroll + offset === selected;
    const look = STATE_STYLE[row.state];
    const [state, ...rest] = values.map((value, column) => fit(value, widths[column]!, column === 4));
    return [
      style(chosen ? '> ' : '  ', { bold: chosen }),
      style(state!, { color: look.color, bold: row.state === 'needs_approval', inverse: chosen }),
      style(`  ${rest.join('  ')}`, { inverse: chosen, dim: !row.local && !chosen }),
    ];
  });
  return { header, lines, scroll };
}

/** Keeps the selected row on screen, moving the window as little as possible. */
export function scrollFor(previous: number, selected: number, page: number, count: number): number {
  const last = Math.max(0, count - page);
  let scroll = Math.min(Math.max(0, previous), last);
  if (selected < scroll) scroll = selected;
  else if (selected >= scroll + page) scroll = selected - page + 1;
  return Math.max(0, Math.min(scroll, last));
}

function columnWidths(table: readonly (readonly string[])[], width: number): number[] {
  const widths = HEADER.map((title) => title.length);
  for (const row of table) for (let column = 0; column < widths.length; column++) widths[column] = Math.max(widths[column]!, [...row[column]!].length);
  let excess = widths.reduce((sum, value) => sum + value, 0) + 2 * (widths.length - 1) - width;
  for (const { column, min } of SHRINK) {
    if (excess <= 0) break;
    const give = Math.min(excess, Math.max(0, widths[column]! - min));
    widths[column] = widths[column]! - give;
    excess -= give;
  }
  return widths;
}

/** Pads or cuts to `width` characters; a path is cut at its start (its end says more), anything else at its end. */
function fit(value: string, width: number, fromStart: boolean): string {
  const chars = [...value];
  if (chars.length <= width) return value + ' '.repeat(width - chars.length);
  if (width <= 1) return chars.slice(0, width).join('');
  return fromStart ? `…${chars.slice(chars.length - width + 1).join('')}` : `${chars.slice(0, width - 1).join('')}…`;
}

function clip(line: Line, width: number): Line {
  let left = width;
  const out: Segment[] = [];
  for (const segment of line) {
    if (left <= 0) break;
    const chars = [...segment.text];
    out.push(chars.length <= left ? segment : { ...segment, text: chars.slice(0, left).join('') });
    left -= chars.length;
  }
  return out;
}

function approvalLines(input: FrameInput, style: Style): Line[] {
  const row = input.view.subject;
  if (!row) return [];
  const live = input.rows.find((candidate) => candidate.key === row.key) ?? row;
  const since = input.since(live);
  const head = `${live.name} (${live.agent}${live.local ? '' : ` on ${live.host}`}): ${STATE_STYLE[live.state].label}${since === undefined ? '' : ` for ${formatAge(Math.max(0, Math.floor((input.now - since) / 1000)))}`}`;
  const lines: Line[] = [[style(head, { color: STATE_STYLE[live.state].color, bold: true })], []];
  if (live.state !== 'needs_approval') lines.push([style('No approval is pending for this session.')]);
  for (const approval of live.approvals) {
    lines.push([style('tool:    ', { bold: true }), style(approval.tool)]);
    if (approval.command) lines.push([style('command: ', { bold: true }), style(oneLine(approval.command))]);
    else if (approval.input) lines.push([style('input:   ', { bold: true }), style(oneLine(approval.input))]);
    if (approval.agent !== 'main') lines.push([style('asked by subagent ', { dim: true }), style(approval.agent, { dim: true })]);
    lines.push([]);
  }
  if (live.state === 'needs_approval' && live.approvals.length === 0) {
    lines.push([style(live.source === 'mqtt' ? 'Reported by another host: the details are on its screen.' : 'Seen on the pane (no hook names the tool); its last lines:', { dim: true })]);
  }
  for (const text of input.view.detail) lines.push([style(`  ${text}`)]);
  lines.push([], [style('Enter attaches to answer it; any other key returns to the list.', { dim: true })]);
  return lines;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ⏎ ');
}

function formLines(input: FrameInput, style: Style): Line[] {
  const { form } = input.view;
  const field = (label: string, name: 'agent' | 'workspace' | 'name', placeholder: string): Line => {
    const active = form.field === name;
    const value = form[name];
    return [
      style(active ? '> ' : '  ', { bold: active }),
      style(label.padEnd(11), { bold: active }),
      value === '' ? style(placeholder, { dim: true }) : style(value, { inverse: active }),
      style(active ? '▏' : ''),
    ];
  };
  return [
    [],
    field('agent', 'agent', 'claude, codex, gemini, agy, or a command'),
    field('workspace', 'workspace', 'a directory that exists'),
    field('name', 'name', '(optional: <workspace>-creator-<agent>)'),
  ];
}

function messageLine(input: FrameInput, style: Style): Line {
  const { view } = input;
  if (view.mode === 'filter') return [style('/', { bold: true }), style(view.filter), style('▏'), style('   Enter keeps the filter, Esc clears it', { dim: true })];
  if (view.mode === 'confirm-delete' && view.subject) return [style(`delete ${view.subject.name} from the registry? `, { color: 'red', bold: true }), style('y/N')];
  if (view.message) return [style(view.message.text, view.message.tone === 'error' ? { color: 'red' } : {})];
  if (view.filter !== '') return [style(`filter: ${view.filter}`, { dim: true }), style('   Esc clears it', { dim: true })];
  return [];
}

const HINTS = 'Enter attach · n new · s stop · r resume · d delete · / filter · a approval · ? help · q quit';

function hintLine(input: FrameInput, style: Style): Line {
  const text = input.view.mode === 'list' || input.view.mode === 'filter' ? HINTS : input.view.mode === 'confirm-delete' ? 'y deletes · any other key cancels' : input.view.mode === 'create' ? 'Tab/↓ next field · ↑ previous · Enter create · Esc cancel' : 'any key returns to the list';
  return [style(text, { dim: true })];
}

const HELP = [
  '',
  '  ↑ ↓ j k       move · PgUp PgDn g G: page, first, last',
  '  Enter         attach to the session (inside tmux on its server: switch to it; else attach here until you detach)',
  '  n             create a session: agent, workspace, name (optional)',
  '  s             stop the selected session (exit keys → kill-session → SIGKILL, recorded)',
  '  r             resume it in its conversation',
  '  d             delete it from the registry (asks first; only stopped or dead sessions)',
  '  /             filter by any shown text; Esc clears',
  '  a             the pending approval: tool and command',
  '  ?             this help          q, Ctrl-C   quit',
  '',
  '  Order: needs approval, gone, dead, unknown, waiting, running, working, starting, stopped;',
  '  within a state, the longest in it first. Other hosts\' sessions (over MQTT) are dimmed and read-only.',
];

/**
 * Milliseconds until any shown age changes (`formatAge`'s unit: a second below a minute, a minute below a day,
 * an hour above): the clock redraws then, and not before. Undefined when no age is shown.
 */
export function nextAgeChange(sinces: Iterable<number | undefined>, now: number): number | undefined {
  let next: number | undefined;
  for (const since of sinces) {
    if (since === undefined) continue;
    const age = Math.max(0, now - since);
    const unit = age < 60_000 ? 1_000 : age < 86_400_000 ? 60_000 : 3_600_000;
    const wait = unit - (age % unit);
    next = next === undefined ? wait : Math.min(next, wait);
  }
  return next;
}
