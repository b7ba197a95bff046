import { HERMES_STANDIN_VERSION } from './api.js';
import { BLOCK_KINDS, DEFAULT_FAILURE_LIMIT, SORT_ORDERS, VALID_STATUSES } from './constants.js';
import { CliExit } from './context.js';
import { pyRepr } from './output.js';

/**
 * A small argparse: the verbs of `hermes kanban`, their options, and argparse's usage text and error messages,
 * so a wrong call fails as the real CLI does (exit 2, `usage: …`).
 */

type OptKind = 'flag' | 'value' | 'append' | 'many';

interface OptSpec {
  readonly flags: readonly string[];
  readonly dest: string;
  readonly kind: OptKind;
  readonly type?: 'int' | 'float';
  readonly choices?: readonly string[];
  readonly required?: boolean;
  readonly default?: unknown;
  readonly metavar?: string;
  readonly hidden?: boolean;
}

interface PosSpec {
  readonly dest: string;
  readonly nargs?: '?' | '*' | '+';
}

interface VerbSpec {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly options: readonly OptSpec[];
  readonly positionals: readonly PosSpec[];
}

export type Args = Record<string, unknown>;

function destOf(flag: string): string {
  return flag.replace(/^-+/, '').replace(/-/g, '_');
}

const opt = {
  flag: (flags: string | string[], extra: Partial<OptSpec> = {}): OptSpec => {
    const list = Array.isArray(flags) ? flags : [flags];
    return { flags: list, dest: destOf(list[0] ?? ''), kind: 'flag', default: false, ...extra };
  },
  value: (flag: string, extra: Partial<OptSpec> = {}): OptSpec => ({
    flags: [flag],
    dest: destOf(flag),
    kind: 'value',
    default: null,
    ...extra,
  }),
  append: (flag: string, extra: Partial<OptSpec> = {}): OptSpec => ({
    flags: [flag],
    dest: destOf(flag),
    kind: 'append',
    default: [],
    ...extra,
  }),
  many: (flag: string, extra: Partial<OptSpec> = {}): OptSpec => ({
    flags: [flag],
    dest: destOf(flag),
    kind: 'many',
    default: null,
    ...extra,
  }),
};

const pos = (dest: string, nargs?: PosSpec['nargs']): PosSpec => (nargs === undefined ? { dest } : { dest, nargs });

const STATE_FILTER = [
  opt.value('--state-type', { choices: ['status', 'outcome'] }),
  opt.value('--state-name', { metavar: 'VALUE' }),
];

export const VERBS: readonly VerbSpec[] = [
  { name: 'init', options: [], positionals: [] },
  {
    name: 'create',
    positionals: [pos('title')],
    options: [
      opt.value('--body'),
      opt.value('--assignee'),
      opt.append('--parent'),
      opt.value('--workspace', { default: 'scratch' }),
      opt.value('--branch'),
      opt.value('--project'),
      opt.value('--tenant'),
      opt.value('--priority', { type: 'int', default: 0 }),
      opt.flag('--triage'),
      opt.value('--idempotency-key'),
      opt.value('--max-runtime'),
      opt.value('--created-by', { default: 'user' }),
      opt.append('--skill', { dest: 'skills' }),
      opt.value('--max-retries', { type: 'int', metavar: 'N' }),
      opt.flag('--goal', { dest: 'goal_mode' }),
      opt.value('--goal-max-turns', { type: 'int', metavar: 'N' }),
      opt.value('--initial-status', { choices: ['blocked', 'running'], default: 'running' }),
      opt.flag('--json'),
    ],
  },
  {
    name: 'list',
    aliases: ['ls'],
    positionals: [],
    options: [
      opt.flag('--mine'),
      opt.value('--assignee'),
      opt.value('--status', { choices: VALID_STATUSES }),
      opt.value('--tenant'),
      opt.value('--session'),
      opt.flag('--archived'),
      opt.flag('--json'),
      opt.value('--sort', { choices: SORT_ORDERS }),
      opt.value('--workflow-template-id', { metavar: 'ID' }),
      opt.value('--step-key', { dest: 'current_step_key', metavar: 'KEY' }),
    ],
  },
  { name: 'show', positionals: [pos('task_id')], options: [opt.flag('--json'), ...STATE_FILTER] },
  { name: 'assign', positionals: [pos('task_id'), pos('profile')], options: [] },
  { name: 'reclaim', positionals: [pos('task_id')], options: [opt.value('--reason')] },
  {
    name: 'reassign',
    positionals: [pos('task_id'), pos('profile')],
    options: [opt.flag('--reclaim'), opt.value('--reason')],
  },
  { name: 'link', positionals: [pos('parent_id'), pos('child_id')], options: [] },
  { name: 'unlink', positionals: [pos('parent_id'), pos('child_id')], options: [] },
  { name: 'claim', positionals: [pos('task_id')], options: [opt.value('--ttl', { type: 'int' })] },
  {
    name: 'comment',
    positionals: [pos('task_id'), pos('text', '+')],
    options: [opt.value('--author'), opt.value('--max-len', { type: 'int' })],
  },
  {
    name: 'complete',
    positionals: [pos('task_ids', '+')],
    options: [opt.value('--result'), opt.value('--summary'), opt.value('--metadata')],
  },
  {
    name: 'edit',
    positionals: [pos('task_id')],
    options: [opt.value('--result', { required: true }), opt.value('--summary'), opt.value('--metadata')],
  },
  {
    name: 'block',
    positionals: [pos('task_id'), pos('reason', '*')],
    options: [opt.many('--ids'), opt.value('--kind', { choices: BLOCK_KINDS })],
  },
  { name: 'schedule', positionals: [pos('task_id'), pos('reason', '*')], options: [opt.many('--ids')] },
  { name: 'unblock', positionals: [pos('task_ids', '+')], options: [opt.value('--reason')] },
  {
    name: 'promote',
    positionals: [pos('task_id'), pos('reason', '*')],
    options: [opt.many('--ids'), opt.flag('--force'), opt.flag('--dry-run'), opt.flag('--json')],
  },
  { name: 'archive', positionals: [pos('task_ids', '*')], options: [opt.many('--rm', { dest: 'purge_ids' })] },
  {
    name: 'dispatch',
    positionals: [],
    options: [
      opt.flag('--dry-run'),
      opt.value('--max', { type: 'int' }),
      opt.value('--failure-limit', { type: 'int', default: DEFAULT_FAILURE_LIMIT }),
      opt.flag('--json'),
    ],
  },
  {
    name: 'daemon',
    positionals: [],
    options: [
      opt.value('--interval', { type: 'float', default: 60 }),
      opt.value('--max', { type: 'int' }),
      opt.value('--failure-limit', { type: 'int', default: DEFAULT_FAILURE_LIMIT }),
      opt.value('--pidfile'),
      opt.flag(['--verbose', '-v']),
      opt.flag('--force', { hidden: true }),
    ],
  },
  { name: 'stats', positionals: [], options: [opt.flag('--json')] },
  { name: 'log', positionals: [pos('task_id')], options: [opt.value('--tail', { type: 'int' })] },
  { name: 'runs', positionals: [pos('task_id')], options: [opt.flag('--json'), ...STATE_FILTER] },
  { name: 'heartbeat', positionals: [pos('task_id')], options: [opt.value('--note')] },
  { name: 'assignees', positionals: [], options: [opt.flag('--json')] },
];

/** Real parser verbs the stand-in does not implement (test/hermes/README.md, 'Deliberate deviations and gaps'). */
export const UNIMPLEMENTED_VERBS = [
  'boards', 'swarm', 'diagnostics', 'diag', 'tail', 'watch', 'notify-subscribe', 'notify-list',
  'notify-unsubscribe', 'context', 'specify', 'decompose', 'gc',
];

export function allVerbNames(): string[] {
  const names = VERBS.flatMap((verb) => [verb.name, ...(verb.aliases ?? [])]);
  return [...names, ...UNIMPLEMENTED_VERBS];
}

function metavarOf(spec: OptSpec): string {
  if (spec.metavar) return spec.metavar;
  if (spec.choices) return `{${spec.choices.join(',')}}`;
  return spec.dest.toUpperCase();
}

export function usageOf(prog: string, spec: VerbSpec): string {
  const parts = [`usage: ${prog}`, '[-h]'];
  for (const option of spec.options) {
    if (option.hidden) continue;
    const flag = option.flags[0] ?? '';
    if (option.kind === 'flag') parts.push(`[${flag}]`);
    else if (option.kind === 'many') parts.push(`[${flag} ${metavarOf(option)} [${metavarOf(option)} ...]]`);
    else if (option.required) parts.push(`${flag} ${metavarOf(option)}`);
    else parts.push(`[${flag} ${metavarOf(option)}]`);
  }
  for (const positional of spec.positionals) {
    if (positional.nargs === '?') parts.push(`[${positional.dest}]`);
    else if (positional.nargs === '*') parts.push(`[${positional.dest} ...]`);
    else if (positional.nargs === '+') parts.push(`${positional.dest} [${positional.dest} ...]`);
    else parts.push(positional.dest);
  }
  return parts.join(' ');
}

export function usageError(prog: string, usage: string, message: string): CliExit {
  return new CliExit(2, `${usage}\n${prog}: error: ${message}`);
}

export function looksLikeOption(token: string): boolean {
  return token.startsWith('-') && token.length > 1 && !/^-\d+(\.\d+)?$/.test(token);
}

function convert(prog: string, usage: string, spec: OptSpec, raw: string): unknown {
  const label = spec.flags.join('/');
  if (spec.type === 'int') {
    if (!/^[-+]?\d+$/.test(raw.trim())) throw usageError(prog, usage, `argument ${label}: invalid int value: ${pyRepr(raw)}`);
    return Number.parseInt(raw, 10);
  }
  if (spec.type === 'float') {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      throw usageError(prog, usage, `argument ${label}: invalid float value: ${pyRepr(raw)}`);
    }
    return value;
  }
  if (spec.choices && !spec.choices.includes(raw)) {
    throw usageError(
      prog,
      usage,
      `argument ${label}: invalid choice: ${pyRepr(raw)} (choose from ${spec.choices.map((c) => pyRepr(c)).join(', ')})`,
    );
  }
  return raw;
}

function findOption(prog: string, usage: string, spec: VerbSpec, name: string): OptSpec | undefined {
  const exact = spec.options.find((option) => option.flags.includes(name));
  if (exact) return exact;
  if (!name.startsWith('--')) return undefined;
  const candidates = spec.options.filter((option) => option.flags.some((flag) => flag.startsWith('--') && flag.startsWith(name)));
  if (candidates.length > 1) {
    const names = candidates.map((option) => option.flags.find((flag) => flag.startsWith(name)) ?? '').join(', ');
    throw usageError(prog, usage, `ambiguous option: ${name} could match ${names}`);
  }
  return candidates[0];
}

/** Parses `tokens` like argparse (intermixed positionals and options, unique-prefix long options). */
export function parseArgs(prog: string, spec: VerbSpec, tokens: readonly string[]): Args {
  const usage = usageOf(prog, spec);
  const args: Args = {};
  for (const option of spec.options) {
    args[option.dest] = Array.isArray(option.default) ? [...(option.default as unknown[])] : option.default;
  }
  const seen = new Set<string>();
  const positionals: string[] = [];
  const unrecognized: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i] ?? '';
    if (onlyPositionals || !looksLikeOption(token)) {
      positionals.push(token);
      continue;
    }
    if (token === '--') {
      onlyPositionals = true;
      continue;
    }
    if (token === '-h' || token === '--help') {
      throw new CliExit(0, '', `${usage}\n\n(stand-in for Hermes Agent ${HERMES_STANDIN_VERSION}; see test/hermes/README.md)`);
    }
    let name = token;
    let inline: string | undefined;
    const eq = token.indexOf('=');
    if (token.startsWith('--') && eq > 0) {
      name = token.slice(0, eq);
      inline = token.slice(eq + 1);
    }
    const option = findOption(prog, usage, spec, name);
    if (!option) {
      unrecognized.push(token);
      continue;
    }
    const label = option.flags.join('/');
    seen.add(option.dest);
    if (option.kind === 'flag') {
      if (inline !== undefined) throw usageError(prog, usage, `argument ${label}: ignored explicit argument ${pyRepr(inline)}`);
      args[option.dest] = true;
      continue;
    }
    if (option.kind === 'many') {
      const values: unknown[] = [];
      if (inline !== undefined) values.push(convert(prog, usage, option, inline));
      while (i + 1 < tokens.length && !looksLikeOption(tokens[i + 1] ?? '') && tokens[i + 1] !== '--') {
        i += 1;
        values.push(convert(prog, usage, option, tokens[i] ?? ''));
      }
      if (values.length === 0) throw usageError(prog, usage, `argument ${label}: expected at least one argument`);
      args[option.dest] = values;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || looksLikeOption(next)) throw usageError(prog, usage, `argument ${label}: expected one argument`);
      raw = next;
      i += 1;
    }
    const value = convert(prog, usage, option, raw);
    if (option.kind === 'append') (args[option.dest] as unknown[]).push(value);
    else args[option.dest] = value;
  }

  // Positionals: argparse's greedy allocation, left to right.
  const minimum = (p: PosSpec): number => (p.nargs === undefined || p.nargs === '+' ? 1 : 0);
  let index = 0;
  const missing: string[] = [];
  spec.positionals.forEach((positional, k) => {
    const remaining = positionals.length - index;
    const neededLater = spec.positionals.slice(k + 1).reduce((sum, p) => sum + minimum(p), 0);
    const available = Math.max(0, remaining - neededLater);
    if (positional.nargs === undefined) {
      if (remaining < 1) missing.push(positional.dest);
      else args[positional.dest] = positionals[index++];
    } else if (positional.nargs === '?') {
      args[positional.dest] = available >= 1 ? positionals[index++] : null;
    } else {
      const take = available;
      if (positional.nargs === '+' && take < 1) {
        missing.push(positional.dest);
        args[positional.dest] = [];
      } else {
        args[positional.dest] = positionals.slice(index, index + take);
        index += take;
      }
    }
  });
  const requiredOptions = spec.options.filter((option) => option.required && !seen.has(option.dest));
  const missingAll = [...missing, ...requiredOptions.map((option) => option.flags.join('/'))];
  if (missingAll.length > 0) {
    throw usageError(prog, usage, `the following arguments are required: ${missingAll.join(', ')}`);
  }
  unrecognized.push(...positionals.slice(index));
  if (unrecognized.length > 0) {
    throw usageError('hermes', 'usage: hermes [-h] [--version] {kanban,…} ...', `unrecognized arguments: ${unrecognized.join(' ')}`);
  }
  return args;
}

export const str = (args: Args, key: string): string | null => {
  const value = args[key];
  return typeof value === 'string' ? value : null;
};
export const num = (args: Args, key: string): number | null => {
  const value = args[key];
  return typeof value === 'number' ? value : null;
};
export const bool = (args: Args, key: string): boolean => args[key] === true;
export const list = (args: Args, key: string): string[] => {
  const value = args[key];
  return Array.isArray(value) ? value.map(String) : [];
};
