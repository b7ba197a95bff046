import type { FleetRow } from './fleet.js';

/**
 * What the person is doing in the dashboard — which row is selected, the filter, an open form or panel — and
 * what each key does to it (docs/ui.md, 'Keys'). Pure: a key and the rows on screen in, the next view and at
 * most one effect (attach, stop, …) out; the shell (./dashboard.ts) carries the effects out.
 */
export type Mode = 'list' | 'filter' | 'help' | 'approval' | 'confirm-delete' | 'create';

export const FORM_FIELDS = ['agent', 'workspace', 'name'] as const;
export type FormField = (typeof FORM_FIELDS)[number];

export interface CreateForm {
  readonly agent: string;
  readonly workspace: string;
  readonly name: string;
  readonly field: FormField;
}

export interface Message {
  readonly text: string;
  readonly tone: 'info' | 'error';
}

export interface ViewState {
  readonly mode: Mode;
  readonly filter: string;
  /** The selected row's key: the selection follows its session when the order changes. */
  readonly selected: string | undefined;
  /** Index of the first row shown (the list scrolls to keep the selection in sight). */
  readonly scroll: number;
  readonly form: CreateForm;
  /** The session a confirmation or the approval panel is about. */
  readonly subject: FleetRow | undefined;
  /** Extra lines for the approval panel (the pane's last screen, when no hook reports the agent). */
  readonly detail: readonly string[];
  readonly message: Message | undefined;
  /** What the create form starts with. */
  readonly defaults: { readonly agent: string; readonly workspace: string };
}

export type UiKey =
  | { readonly name: 'up' | 'down' | 'pageup' | 'pagedown' | 'home' | 'end' | 'enter' | 'escape' | 'tab' | 'backtab' | 'backspace' | 'interrupt' }
  | { readonly name: 'char'; readonly char: string };

export type Effect =
  | { readonly kind: 'attach'; readonly row: FleetRow }
  | { readonly kind: 'stop' | 'resume' | 'delete'; readonly row: FleetRow }
  | { readonly kind: 'create'; readonly agent: string; readonly workspace: string; readonly name: string | undefined }
  | { readonly kind: 'approval'; readonly row: FleetRow }
  | { readonly kind: 'quit' };

export interface KeyResult {
  readonly view: ViewState;
  readonly effect?: Effect;
}

export function initialView(defaults: ViewState['defaults']): ViewState {
  return { mode: 'list', filter: '', selected: undefined, scroll: 0, form: emptyForm(defaults), subject: undefined, detail: [], message: undefined, defaults };
}

function emptyForm(defaults: ViewState['defaults']): CreateForm {
  return { agent: defaults.agent, workspace: defaults.workspace, name: '', field: 'agent' };
}

/** The selected row among `rows` (the rows on screen, in order): the chosen one, else the first. */
export function selectedIndex(view: ViewState, rows: readonly FleetRow[]): number {
  if (rows.length === 0) return -1;
  const at = view.selected === undefined ? -1 : rows.findIndex((row) => row.key === view.selected);
  return at === -1 ? 0 : at;
}

const info = (text: string): Message => ({ text, tone: 'info' });
const error = (text: string): Message => ({ text, tone: 'error' });

/** `rows`: what the list shows now, in order; `page`: how many rows fit on screen. */
export function pressKey(view: ViewState, key: UiKey, rows: readonly FleetRow[], page: number): KeyResult {
  if (key.name === 'interrupt') return { view, effect: { kind: 'quit' } };
  switch (view.mode) {
    case 'help':
      return { view: { ...view, mode: 'list' } };
    case 'approval':
      return { view: { ...view, mode: 'list', subject: undefined, detail: [] } };
    case 'confirm-delete':
      if (key.name === 'char' && (key.char === 'y' || key.char === 'Y') && view.subject) {
        return { view: { ...view, mode: 'list', subject: undefined, message: info(`deleting ${view.subject.name}…`) }, effect: { kind: 'delete', row: view.subject } };
      }
      return { view: { ...view, mode: 'list', subject: undefined, message: info('delete cancelled: nothing was changed') } };
    case 'create':
      return formKey(view, key);
    case 'filter':
      return filterKey(view, key, rows, page);
    case 'list':
      return listKey(view, key, rows, page);
  }
}

function move(view: ViewState, rows: readonly FleetRow[], to: (index: number) => number): ViewState {
  if (rows.length === 0) return view;
  const index = Math.max(0, Math.min(rows.length - 1, to(selectedIndex(view, rows))));
  return { ...view, selected: rows[index]!.key };
}

function navigate(view: ViewState, key: UiKey, rows: readonly FleetRow[], page: number): ViewState | undefined {
  const step = Math.max(1, page - 1);
  switch (key.name) {
    case 'up':
      return move(view, rows, (index) => index - 1);
    case 'down':
      return move(view, rows, (index) => index + 1);
    case 'pageup':
      return move(view, rows, (index) => index - step);
    case 'pagedown':
      return move(view, rows, (index) => index + step);
    case 'home':
      return move(view, rows, () => 0);
    case 'end':
      return move(view, rows, () => rows.length - 1);
    default:
      return undefined;
  }
}

function listKey(view: ViewState, key: UiKey, rows: readonly FleetRow[], page: number): KeyResult {
  const moved = navigate(view, key, rows, page);
  if (moved) return { view: moved };
  const row = rows[selectedIndex(view, rows)];
  const cleared = { ...view, message: undefined };
  if (key.name === 'escape') return { view: { ...cleared, filter: '' } };
  if (key.name === 'enter') return act(cleared, row, 'attach');
  if (key.name !== 'char') return { view };
  switch (key.char) {
    case 'j':
      return { view: move(view, rows, (index) => index + 1) };
    case 'k':
      return { view: move(view, rows, (index) => index - 1) };
    case 'g':
      return { view: move(view, rows, () => 0) };
    case 'G':
      return { view: move(view, rows, () => rows.length - 1) };
    case 'q':
      return { view, effect: { kind: 'quit' } };
    case '?':
      return { view: { ...cleared, mode: 'help' } };
    case '/':
      return { view: { ...cleared, mode: 'filter' } };
    case 'n':
      return { view: { ...cleared, mode: 'create', form: emptyForm(view.defaults) } };
    case 's':
      return act(cleared, row, 'stop');
    case 'r':
      return act(cleared, row, 'resume');
    case 'd':
      if (!row) return { view: { ...cleared, message: error('no session selected') } };
      if (!row.local) return { view: { ...cleared, message: remote(row, 'delete') } };
      return { view: { ...cleared, mode: 'confirm-delete', subject: row } };
    case 'a':
      if (!row) return { view: { ...cleared, message: error('no session selected') } };
      return { view: { ...cleared, mode: 'approval', subject: row, detail: [] }, effect: { kind: 'approval', row } };
    default:
      return { view };
  }
}

const VERB = { attach: 'attaching to', stop: 'stopping', resume: 'resuming' } as const;

function act(view: ViewState, row: FleetRow | undefined, kind: 'attach' | 'stop' | 'resume'): KeyResult {
  if (!row) return { view: { ...view, message: error('no session selected') } };
  if (!row.local) return { view: { ...view, message: remote(row, kind) } };
  return { view: { ...view, message: info(`${VERB[kind]} ${row.name}…`) }, effect: { kind, row } };
}

function remote(row: FleetRow, what: string): Message {
  return error(`${row.name} runs on ${row.host}: ${what} it there (mam ui on ${row.host})`);
}

function filterKey(view: ViewState, key: UiKey, rows: readonly FleetRow[], page: number): KeyResult {
  const moved = navigate(view, key, rows, page);
  if (moved) return { view: moved };
  switch (key.name) {
    case 'enter':
      return { view: { ...view, mode: 'list' } };
    case 'escape':
      return { view: { ...view, mode: 'list', filter: '' } };
    case 'backspace':
      return { view: { ...view, filter: view.filter.slice(0, -1) } };
    case 'char':
      return { view: { ...view, filter: view.filter + key.char } };
    default:
      return { view };
  }
}

function formKey(view: ViewState, key: UiKey): KeyResult {
  const { form } = view;
  const at = FORM_FIELDS.indexOf(form.field);
  switch (key.name) {
    case 'escape':
      return { view: { ...view, mode: 'list', message: info('create cancelled') } };
    case 'tab':
    case 'down':
      return { view: { ...view, form: { ...form, field: FORM_FIELDS[(at + 1) % FORM_FIELDS.length]! } } };
    case 'backtab':
    case 'up':
      return { view: { ...view, form: { ...form, field: FORM_FIELDS[(at + FORM_FIELDS.length - 1) % FORM_FIELDS.length]! } } };
    case 'backspace':
      return { view: { ...view, form: { ...form, [form.field]: form[form.field].slice(0, -1) } } };
    case 'char':
      return { view: { ...view, form: { ...form, [form.field]: form[form.field] + key.char } } };
    case 'enter': {
      const agent = form.agent.trim();
      const workspace = form.workspace.trim();
      if (!agent || !workspace) return { view: { ...view, message: error('agent and workspace are both needed (Esc cancels)') } };
      const name = form.name.trim() || undefined;
      return {
        view: { ...view, mode: 'list', message: info(`creating ${name ?? `a ${agent} session`} in ${workspace}…`) },
        effect: { kind: 'create', agent, workspace, name },
      };
    }
    default:
      return { view };
  }
}
