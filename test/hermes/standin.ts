/**
 * A stand-in for the `hermes kanban` CLI of Hermes Agent 0.18.0, for tests of `mam`'s Kanban worker.
 *
 * The contract is docs/hermes-kanban.md (the sections named below in quotes are that page's), and what this
 * stand-in reproduces and where it deviates is test/hermes/README.md. Output strings, exit codes and JSON shapes
 * follow the 0.18-era `hermes_cli/kanban.py`; the kernel (claims, runs, blocks, the dispatcher tick) follows
 * `kanban_db.py` as that page describes it. The board is a JSON file instead
 * of SQLite; every read-modify-write runs under an exclusive flock (`withLock`) and is written with
 * `writeFileAtomic`, so concurrent CLI processes (a test, a worker, a supervisor) never lose an update.
 *
 * `runHermes` never exits the process and never writes to the real stdout: it is used in-process by tests
 * (thousands of calls) as well as through the `hermes` executable next to this file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { removeStaleTempFiles, writeFileAtomic } from '../../src/registry/atomic.js';
import { withLock } from '../../src/registry/lock.js';

// ---------------------------------------------------------------------------------------------------------
// Public surface
// ---------------------------------------------------------------------------------------------------------

export type HermesEnv = Readonly<Record<string, string | undefined>>;

export interface HermesOptions {
  /** Clock in epoch milliseconds; `HERMES_STANDIN_NOW` (epoch seconds) in `env` wins over it. */
  now?: () => number;
  /** Stops `kanban daemon --force` (the CLI wires SIGTERM/SIGINT to it). */
  signal?: AbortSignal;
  /** Called with every chunk as it is produced (the CLI streams through it); the result still has it all. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}

export interface HermesResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export const HERMES_STANDIN_VERSION = '0.18.0';
/** argv[0] that makes `cli.ts` act as the per-worker supervisor (internal). */
export const SUPERVISE_FLAG = '--hermes-standin-supervise';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The executable wrapper: point `hermes` at this in tests. */
export const HERMES_STANDIN_BIN = path.join(HERE, 'hermes');
const CLI_PATH = path.join(HERE, 'cli.ts');

/**
 * Runs `hermes <argv…>` against the board that `env` selects and returns what the real CLI would print and
 * its exit code. Only `kanban …` is implemented.
 */
export async function runHermes(
  argv: readonly string[],
  env: HermesEnv,
  options: HermesOptions = {},
): Promise<HermesResult> {
  const ctx = new Ctx(env, options);
  let exitCode: number;
  try {
    exitCode = await main(ctx, [...argv]);
  } catch (error) {
    if (error instanceof CliExit) {
      if (error.stdout !== undefined) ctx.out(error.stdout);
      if (error.line !== '') ctx.err(error.line);
      exitCode = error.code;
    } else {
      ctx.err(`kanban: ${error instanceof Error ? error.message : String(error)}`);
      exitCode = 1;
    }
  }
  return ctx.result(exitCode);
}

// ---------------------------------------------------------------------------------------------------------
// Constants ('Where the board lives', 'The dispatcher')
// ---------------------------------------------------------------------------------------------------------

const DEFAULT_CLAIM_TTL_SECONDS = 900;
const CLAIM_HEARTBEAT_MAX_STALE_SECONDS = 3600;
const DEFAULT_CRASH_GRACE_SECONDS = 30;
const DEFAULT_RATE_LIMIT_COOLDOWN_SECONDS = 300;
const RATE_LIMIT_EXIT_CODE = 75;
const DEFAULT_FAILURE_LIMIT = 2;
const PROTOCOL_VIOLATION_FAILURE_LIMIT = 1;
const BLOCK_RECURRENCE_LIMIT = 2;
const RECENT_COMPLETION_GUARD_SECONDS = 3600;
const ACTIVE_PR_GUARD_SECONDS = 24 * 3600;
const DEFAULT_BUSY_TIMEOUT_MS = 120_000;

const VALID_STATUSES = ['archived', 'blocked', 'done', 'ready', 'review', 'running', 'scheduled', 'todo', 'triage'];
const BLOCK_KINDS = ['capability', 'dependency', 'needs_input', 'transient'];
const SORT_ORDERS = ['assignee', 'created', 'created-desc', 'priority', 'priority-desc', 'status', 'title', 'updated'];
/** Toolset names `--skill` refuses (kanban_db.py:2499-2537): a toolset is not a skill. */
const TOOLSET_NAMES = new Set([
  'browser', 'clarify', 'code_execution', 'cronjob', 'delegation', 'file', 'homeassistant', 'image_gen',
  'kanban', 'memory', 'messaging', 'moa', 'rl', 'search', 'session_search', 'skills', 'terminal', 'todo',
  'tts', 'vision', 'web',
]);
const STATUS_ICONS: Record<string, string> = {
  todo: '◻', ready: '▶', running: '●', scheduled: '⏱', blocked: '⊘', done: '✓', archived: '—',
};
const PROTOCOL_VIOLATION_ERROR =
  'worker exited cleanly (rc=0) without calling kanban_complete or kanban_block — protocol violation. ' +
  'If the prior run already did the work, verify it and report the result via kanban_complete; a run that ends ' +
  'without a terminal kanban call counts as failed no matter what it did.';
const NO_GATEWAY_WARNING =
  "\n⚠  No gateway is running — the task will sit in 'ready' until you start it. Run:\n" +
  '    hermes gateway start\n' +
  'The gateway hosts an embedded dispatcher (tick interval 60s by default); your task will be picked up on ' +
  'the next tick after the gateway comes up.';

// ---------------------------------------------------------------------------------------------------------
// Invocation context, errors, output helpers
// ---------------------------------------------------------------------------------------------------------

/** Ends the command: `line` goes to stderr, `code` is the exit code. */
class CliExit extends Error {
  constructor(
    readonly code: number,
    readonly line: string,
    readonly stdout?: string,
  ) {
    super(line);
  }
}

/** `ValueError`/`RuntimeError` in the real CLI: `kanban: <msg>` on stderr, exit 1. */
function kanbanError(message: string, code = 1): CliExit {
  return new CliExit(code, `kanban: ${message}`);
}

function standinError(message: string): CliExit {
  return new CliExit(2, `hermes stand-in: ${message}`);
}

class Ctx {
  private readonly stdoutChunks: string[] = [];
  private readonly stderrChunks: string[] = [];

  constructor(
    readonly env: HermesEnv,
    readonly options: HermesOptions,
  ) {}

  out(line = ''): void {
    this.emit('stdout', `${line}\n`);
  }

  err(line = ''): void {
    this.emit('stderr', `${line}\n`);
  }

  private emit(stream: 'stdout' | 'stderr', text: string): void {
    (stream === 'stdout' ? this.stdoutChunks : this.stderrChunks).push(text);
    this.options.onOutput?.(stream, text);
  }

  result(exitCode: number): HermesResult {
    return { exitCode, stdout: this.stdoutChunks.join(''), stderr: this.stderrChunks.join('') };
  }

  /** Epoch seconds (float). */
  nowFloat(): number {
    return clockSeconds(this.env, this.options.now);
  }

  /** Epoch seconds as Hermes stores them (`int(time.time())`). */
  now(): number {
    return Math.floor(this.nowFloat());
  }

  envNumber(name: string, fallback: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw);
    return Number.isFinite(value) ? value : fallback;
  }
}

function clockSeconds(env: HermesEnv, now?: () => number): number {
  const raw = env['HERMES_STANDIN_NOW'];
  if (raw !== undefined && raw.trim() !== '') {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw standinError(`HERMES_STANDIN_NOW must be epoch seconds, got ${JSON.stringify(raw)}`);
    return value;
  }
  return (now?.() ?? Date.now()) / 1000;
}

/** `json.dumps(value, indent=2[, ensure_ascii=False])`. */
function pyJson(value: unknown, ensureAscii: boolean): string {
  const text = JSON.stringify(value, null, 2);
  return ensureAscii ? text.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

/** Python's `repr` of a JSON value, as the text views print event payloads. */
function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let body = '';
    for (const ch of value) {
      const code = ch.codePointAt(0) ?? 0;
      if (ch === '\\') body += '\\\\';
      else if (ch === quote) body += `\\${quote}`;
      else if (ch === '\n') body += '\\n';
      else if (ch === '\r') body += '\\r';
      else if (ch === '\t') body += '\\t';
      else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`;
      else body += ch;
    }
    return `${quote}${body}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => `${pyRepr(key)}: ${pyRepr(item)}`)
      .join(', ')}}`;
  }
  return String(value);
}

function pyFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

/** `time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))`, '' for 0/None. */
function fmtTs(ts: number | null | undefined): string {
  if (!ts) return '';
  const d = new Date(ts * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------------------
// A small argparse
// ---------------------------------------------------------------------------------------------------------

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

type Args = Record<string, unknown>;

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

const VERBS: readonly VerbSpec[] = [
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
const UNIMPLEMENTED_VERBS = [
  'boards', 'swarm', 'diagnostics', 'diag', 'tail', 'watch', 'notify-subscribe', 'notify-list',
  'notify-unsubscribe', 'context', 'specify', 'decompose', 'gc',
];

function allVerbNames(): string[] {
  const names = VERBS.flatMap((verb) => [verb.name, ...(verb.aliases ?? [])]);
  return [...names, ...UNIMPLEMENTED_VERBS];
}

function metavarOf(spec: OptSpec): string {
  if (spec.metavar) return spec.metavar;
  if (spec.choices) return `{${spec.choices.join(',')}}`;
  return spec.dest.toUpperCase();
}

function usageOf(prog: string, spec: VerbSpec): string {
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

function usageError(prog: string, usage: string, message: string): CliExit {
  return new CliExit(2, `${usage}\n${prog}: error: ${message}`);
}

function looksLikeOption(token: string): boolean {
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
function parseArgs(prog: string, spec: VerbSpec, tokens: readonly string[]): Args {
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

const str = (args: Args, key: string): string | null => {
  const value = args[key];
  return typeof value === 'string' ? value : null;
};
const num = (args: Args, key: string): number | null => {
  const value = args[key];
  return typeof value === 'number' ? value : null;
};
const bool = (args: Args, key: string): boolean => args[key] === true;
const list = (args: Args, key: string): string[] => {
  const value = args[key];
  return Array.isArray(value) ? value.map(String) : [];
};

// ---------------------------------------------------------------------------------------------------------
// Board storage (JSON instead of SQLite)
// ---------------------------------------------------------------------------------------------------------

interface TaskRow {
  id: string;
  title: string;
  body: string | null;
  assignee: string | null;
  status: string;
  priority: number;
  created_by: string | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  workspace_kind: string;
  workspace_path: string | null;
  branch_name: string | null;
  project_id: string | null;
  claim_lock: string | null;
  claim_expires: number | null;
  tenant: string | null;
  result: string | null;
  idempotency_key: string | null;
  consecutive_failures: number;
  worker_pid: number | null;
  last_failure_error: string | null;
  max_runtime_seconds: number | null;
  last_heartbeat_at: number | null;
  current_run_id: number | null;
  workflow_template_id: string | null;
  current_step_key: string | null;
  skills: string[] | null;
  model_override: string | null;
  max_retries: number | null;
  goal_mode: number;
  goal_max_turns: number | null;
  session_id: string | null;
  block_kind: string | null;
  block_recurrences: number;
  /** Stand-in only: the process that reaps `worker_pid` and records its exit. */
  supervisor_pid: number | null;
}

interface RunRow {
  id: number;
  task_id: string;
  profile: string | null;
  step_key: string | null;
  status: string;
  claim_lock: string | null;
  claim_expires: number | null;
  worker_pid: number | null;
  max_runtime_seconds: number | null;
  last_heartbeat_at: number | null;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
  summary: string | null;
  metadata: Record<string, unknown> | null;
  error: string | null;
}

interface CommentRow {
  id: number;
  task_id: string;
  author: string;
  body: string;
  created_at: number;
}

interface EventRow {
  id: number;
  task_id: string;
  run_id: number | null;
  kind: string;
  payload: Record<string, unknown> | null;
  created_at: number;
}

/** What a supervisor saw when it reaped a worker (the gateway's waitpid registry, persisted). */
interface WorkerExit {
  task_id: string;
  run_id: number;
  pid: number;
  exit_code: number | null;
  signal: string | null;
  exited_at: number;
}

interface BoardData {
  format: string;
  next_ids: { comment: number; event: number; run: number };
  tasks: TaskRow[];
  links: { parent_id: string; child_id: string }[];
  comments: CommentRow[];
  events: EventRow[];
  runs: RunRow[];
  worker_exits: WorkerExit[];
}

const BOARD_FORMAT = 'hermes-kanban-standin/1';

function emptyBoard(): BoardData {
  return {
    format: BOARD_FORMAT,
    next_ids: { comment: 1, event: 1, run: 1 },
    tasks: [],
    links: [],
    comments: [],
    events: [],
    runs: [],
    worker_exits: [],
  };
}

function parseBoard(text: string, file: string): BoardData {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw kanbanError(`could not initialize database: ${file}: ${(error as Error).message}`);
  }
  const board = data as Partial<BoardData>;
  if (board.format !== BOARD_FORMAT) throw kanbanError(`could not initialize database: ${file} is not a stand-in board`);
  return { ...emptyBoard(), ...board } as BoardData;
}

interface LockSettings {
  timeoutMs: number;
  flockBin: string;
}

function flockBin(env: HermesEnv): string {
  const override = env['HERMES_STANDIN_FLOCK'];
  if (override) return override;
  for (const candidate of ['/usr/bin/flock', '/bin/flock']) if (existsSync(candidate)) return candidate;
  return 'flock';
}

class Store {
  constructor(
    readonly file: string,
    private readonly lock: LockSettings,
  ) {}

  get lockFile(): string {
    return `${this.file}.lock`;
  }

  /** `kb.init_db()`: idempotent. */
  async ensure(): Promise<void> {
    if (existsSync(this.file)) return;
    await mkdir(path.dirname(this.file), { recursive: true });
    await withLock(
      this.lockFile,
      async () => {
        if (!existsSync(this.file)) await writeFileAtomic(this.file, serializeBoard(emptyBoard()));
      },
      this.lock,
    );
  }

  /** A consistent snapshot without the lock (writers replace the file atomically). */
  async read(): Promise<BoardData> {
    try {
      return parseBoard(await readFile(this.file, 'utf8'), this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyBoard();
      throw error;
    }
  }

  /** One transaction: lock, read, mutate, write back if anything changed. A throw discards the changes. */
  async update<T>(mutate: (board: BoardData) => T | Promise<T>): Promise<T> {
    await mkdir(path.dirname(this.file), { recursive: true });
    return withLock(
      this.lockFile,
      async () => {
        await removeStaleTempFiles(this.file);
        let text: string | null = null;
        try {
          text = await readFile(this.file, 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        const board = text === null ? emptyBoard() : parseBoard(text, this.file);
        const result = await mutate(board);
        const next = serializeBoard(board);
        if (next !== text) await writeFileAtomic(this.file, next);
        return result;
      },
      this.lock,
    );
  }
}

function serializeBoard(board: BoardData): string {
  return `${JSON.stringify(board, null, 1)}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Where things live ('Where the board lives')
// ---------------------------------------------------------------------------------------------------------

interface BoardPaths {
  root: string;
  slug: string;
  file: string;
  boardDir: string;
  workspacesRoot: string;
  logsDir: string;
}

/** The shared Hermes root (kanban_db.py:370-391). */
export function kanbanRoot(env: HermesEnv): string {
  const explicit = env['HERMES_KANBAN_HOME'];
  if (explicit) return path.resolve(explicit);
  const native = path.resolve(env['HOME'] || os.homedir(), '.hermes');
  const home = env['HERMES_HOME'];
  if (home) {
    const resolved = path.resolve(home);
    if (resolved === native || resolved.startsWith(native + path.sep)) return native;
    if (path.basename(path.dirname(resolved)) === 'profiles') return path.dirname(path.dirname(resolved));
    return resolved;
  }
  const db = env['HERMES_KANBAN_DB'];
  if (db) {
    const dir = path.dirname(path.resolve(db));
    const boards = path.dirname(dir);
    if (path.basename(boards) === 'boards' && path.basename(path.dirname(boards)) === 'kanban') {
      return path.dirname(path.dirname(boards));
    }
    return dir;
  }
  return native;
}

function normalizeSlug(raw: string): string {
  const slug = raw.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(slug)) {
    throw kanbanError(`invalid board slug ${pyRepr(raw)}: use lowercase letters, digits, '-' and '_'`, 2);
  }
  return slug;
}

function realHermesHome(): string | null {
  try {
    return path.join(os.userInfo().homedir, '.hermes');
  } catch {
    return null;
  }
}

function resolveBoardPaths(env: HermesEnv, boardFlag: string | null): BoardPaths {
  const root = kanbanRoot(env);
  const real = realHermesHome();
  if (real && (root === real || root.startsWith(real + path.sep)) && env['HERMES_STANDIN_ALLOW_REAL_HOME'] !== '1') {
    throw standinError(
      `refusing to use the real ${real} as the kanban root; point HERMES_HOME at a temp dir ` +
        '(or set HERMES_STANDIN_ALLOW_REAL_HOME=1)',
    );
  }
  let slug = 'default';
  if (boardFlag !== null) {
    slug = normalizeSlug(boardFlag);
    if (slug !== 'default' && !existsSync(path.join(root, 'kanban', 'boards', slug))) {
      throw kanbanError(`board ${pyRepr(slug)} does not exist. Create it with \`hermes kanban boards create ${slug}\`.`);
    }
  } else if (env['HERMES_KANBAN_BOARD']?.trim()) {
    slug = normalizeSlug(env['HERMES_KANBAN_BOARD']);
  } else {
    try {
      const current = readFileSync(path.join(root, 'kanban', 'current'), 'utf8').trim();
      if (current) slug = normalizeSlug(current);
    } catch {
      // no current-board pointer
    }
  }
  const boardDir = slug === 'default' ? path.join(root, 'kanban') : path.join(root, 'kanban', 'boards', slug);
  let file = slug === 'default' ? path.join(root, 'kanban.json') : path.join(boardDir, 'kanban.json');
  const pinned = env['HERMES_KANBAN_DB'];
  if (pinned) {
    const resolved = path.resolve(pinned);
    file = resolved.endsWith('.json') ? resolved : path.join(path.dirname(resolved), 'kanban.json');
  }
  const workspacesRoot = env['HERMES_KANBAN_WORKSPACES_ROOT']
    ? path.resolve(env['HERMES_KANBAN_WORKSPACES_ROOT'])
    : path.join(boardDir, 'workspaces');
  return { root, slug, file, boardDir, workspacesRoot, logsDir: path.join(boardDir, 'logs') };
}

function lockSettings(env: HermesEnv): LockSettings {
  const raw = Number(env['HERMES_KANBAN_BUSY_TIMEOUT_MS']);
  return { timeoutMs: Number.isFinite(raw) && raw > 0 ? raw : DEFAULT_BUSY_TIMEOUT_MS, flockBin: flockBin(env) };
}

function profileNames(root: string): string[] {
  try {
    return readdirSyncSafe(path.join(root, 'profiles'))
      .filter((name) => statSync(path.join(root, 'profiles', name)).isDirectory())
      .sort();
  } catch {
    return [];
  }
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const require_ = createRequire(import.meta.url);

/** `profile_exists`: a directory `<root>/profiles/<name>/` (the root profile `default` always exists). */
function profileExists(root: string, name: string): boolean {
  if (name === 'default') return true;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return false;
  try {
    return statSync(path.join(root, 'profiles', name)).isDirectory();
  } catch {
    return false;
  }
}

/** `_profile_author()` ('Comments'): `$HERMES_PROFILE_NAME`, `$HERMES_PROFILE`, then the active profile name. */
function profileAuthor(env: HermesEnv): string {
  for (const name of ['HERMES_PROFILE_NAME', 'HERMES_PROFILE']) {
    const value = env[name];
    if (value) return value;
  }
  const home = env['HERMES_HOME'];
  if (home) {
    const resolved = path.resolve(home);
    if (path.basename(path.dirname(resolved)) === 'profiles') return path.basename(resolved);
  }
  return 'default';
}

function hostPrefix(): string {
  return `${os.hostname()}:`;
}

/** `_claimer_id()`: `<hostname>:<pid>` ('The dispatcher'). */
function claimerId(): string {
  return `${os.hostname()}:${process.pid}`;
}

// ---------------------------------------------------------------------------------------------------------
// Kernel: rows, events, runs
// ---------------------------------------------------------------------------------------------------------

function taskToDict(t: TaskRow): Record<string, unknown> {
  return {
    id: t.id,
    title: t.title,
    body: t.body,
    assignee: t.assignee,
    status: t.status,
    priority: t.priority,
    tenant: t.tenant,
    workspace_kind: t.workspace_kind,
    workspace_path: t.workspace_path,
    branch_name: t.branch_name,
    project_id: t.project_id,
    created_by: t.created_by,
    created_at: t.created_at,
    started_at: t.started_at,
    completed_at: t.completed_at,
    result: t.result,
    skills: t.skills && t.skills.length > 0 ? [...t.skills] : [],
    max_retries: t.max_retries,
    session_id: t.session_id,
    workflow_template_id: t.workflow_template_id,
    current_step_key: t.current_step_key,
  };
}

function runToShowDict(r: RunRow): Record<string, unknown> {
  return {
    id: r.id,
    profile: r.profile,
    step_key: r.step_key,
    status: r.status,
    outcome: r.outcome,
    summary: r.summary,
    error: r.error,
    metadata: r.metadata,
    worker_pid: r.worker_pid,
    started_at: r.started_at,
    ended_at: r.ended_at,
  };
}

function runToRunsDict(r: RunRow): Record<string, unknown> {
  return {
    id: r.id,
    profile: r.profile,
    status: r.status,
    outcome: r.outcome,
    started_at: r.started_at,
    ended_at: r.ended_at,
    summary: r.summary,
    error: r.error,
    metadata: r.metadata,
    worker_pid: r.worker_pid,
    step_key: r.step_key,
  };
}

function getTask(board: BoardData, id: string): TaskRow | undefined {
  return board.tasks.find((t) => t.id === id);
}

function requireTask(board: BoardData, id: string): TaskRow {
  const task = getTask(board, id);
  if (!task) throw kanbanError(`unknown task ${id}`);
  return task;
}

function appendEvent(
  board: BoardData,
  taskId: string,
  kind: string,
  payload: Record<string, unknown> | null,
  runId: number | null,
  now: number,
): void {
  board.events.push({ id: board.next_ids.event++, task_id: taskId, run_id: runId, kind, payload, created_at: now });
}

function addComment(board: BoardData, taskId: string, author: string, body: string, now: number): void {
  requireTask(board, taskId);
  board.comments.push({ id: board.next_ids.comment++, task_id: taskId, author, body, created_at: now });
  appendEvent(board, taskId, 'commented', { author, len: body.length }, null, now);
}

function currentRun(board: BoardData, task: TaskRow): RunRow | undefined {
  if (task.current_run_id === null) return undefined;
  return board.runs.find((r) => r.id === task.current_run_id);
}

function clearClaim(task: TaskRow): void {
  task.claim_lock = null;
  task.claim_expires = null;
  task.worker_pid = null;
  task.supervisor_pid = null;
}

/** `_end_run`: closes the active run and detaches it from the task; returns its id. */
function endRun(
  board: BoardData,
  task: TaskRow,
  now: number,
  fields: { outcome: string; status?: string; summary?: string | null; error?: string | null; metadata?: Record<string, unknown> | null },
): number | null {
  const run = currentRun(board, task);
  task.current_run_id = null;
  if (!run) return null;
  run.status = fields.status ?? fields.outcome;
  run.outcome = fields.outcome;
  run.ended_at = now;
  if (fields.summary !== undefined) run.summary = fields.summary;
  if (fields.error !== undefined) run.error = fields.error;
  if (fields.metadata !== undefined) run.metadata = fields.metadata;
  return run.id;
}

function openRun(board: BoardData, task: TaskRow, lock: string, expires: number, now: number): RunRow {
  const run: RunRow = {
    id: board.next_ids.run++,
    task_id: task.id,
    profile: task.assignee,
    step_key: task.current_step_key,
    status: 'running',
    claim_lock: lock,
    claim_expires: expires,
    worker_pid: null,
    max_runtime_seconds: task.max_runtime_seconds,
    last_heartbeat_at: null,
    started_at: now,
    ended_at: null,
    outcome: null,
    summary: null,
    metadata: null,
    error: null,
  };
  board.runs.push(run);
  task.current_run_id = run.id;
  return run;
}

function parentIds(board: BoardData, id: string): string[] {
  return board.links.filter((l) => l.child_id === id).map((l) => l.parent_id);
}

function childIds(board: BoardData, id: string): string[] {
  return board.links.filter((l) => l.parent_id === id).map((l) => l.child_id);
}

function parentsSatisfied(board: BoardData, id: string): boolean {
  return parentIds(board, id).every((pid) => {
    const parent = getTask(board, pid);
    return !parent || parent.status === 'done' || parent.status === 'archived';
  });
}

/** `claim_task`: `ready -> running` with a new run and a `claimed` event; null when not claimable. */
function claimTask(board: BoardData, task: TaskRow, lock: string, ttl: number, now: number): RunRow | null {
  if (task.status !== 'ready' || task.claim_lock !== null) return null;
  if (!parentsSatisfied(board, task.id)) {
    task.status = 'todo';
    appendEvent(board, task.id, 'claim_rejected', { reason: 'parents_not_done' }, null, now);
    return null;
  }
  const expires = now + ttl;
  task.status = 'running';
  task.claim_lock = lock;
  task.claim_expires = expires;
  task.started_at ??= now;
  task.worker_pid = null;
  task.supervisor_pid = null;
  // last_heartbeat_at is deliberately NOT reset (issue #119155; 'The dispatcher').
  const run = openRun(board, task, lock, expires, now);
  appendEvent(board, task.id, 'claimed', { lock, expires, run_id: run.id }, run.id, now);
  return run;
}

function runGuardOk(task: TaskRow, expectedRunId: number | null): boolean {
  return expectedRunId === null || task.current_run_id === expectedRunId;
}

/** `_worker_run_id_for` ('The dispatcher', run-id guard): the run id a dispatched worker's CLI call is fenced to. */
function workerRunIdFor(env: HermesEnv, taskId: string): number | null {
  if (env['HERMES_KANBAN_TASK'] !== taskId) return null;
  const raw = env['HERMES_KANBAN_RUN_ID'];
  if (!raw || !/^\s*[-+]?\d+\s*$/.test(raw)) return null;
  return Number.parseInt(raw, 10);
}

/** `block_task` ('Ending a run'): typed kinds, the dependency route and the unblock-loop breaker. */
function blockTask(board: BoardData, task: TaskRow, reason: string | null, kind: string | null, expectedRunId: number | null, now: number): boolean {
  if (task.status !== 'running' && task.status !== 'ready') return false;
  if (!runGuardOk(task, expectedRunId)) return false;
  const sourceStatus = task.status;
  clearClaim(task);
  if (kind === 'dependency') {
    task.status = 'todo';
    task.block_kind = 'dependency';
    const runId = endRun(board, task, now, { outcome: 'blocked', summary: reason });
    appendEvent(board, task.id, 'dependency_wait', { reason, kind }, runId, now);
    return true;
  }
  const recurrences = task.block_kind === kind ? task.block_recurrences + 1 : 1;
  task.block_kind = kind;
  task.block_recurrences = recurrences;
  const runId = endRun(board, task, now, { outcome: 'blocked', summary: reason });
  appendEvent(board, task.id, 'blocked', { reason, kind, recurrences }, runId, now);
  if (recurrences >= BLOCK_RECURRENCE_LIMIT) {
    task.status = 'triage';
    appendEvent(
      board,
      task.id,
      'block_loop_detected',
      { reason, kind, recurrences, limit: BLOCK_RECURRENCE_LIMIT, source_status: sourceStatus },
      runId,
      now,
    );
  } else {
    task.status = 'blocked';
  }
  return true;
}

function scheduleTask(board: BoardData, task: TaskRow, reason: string | null, expectedRunId: number | null, now: number): boolean {
  if (task.status !== 'running' && task.status !== 'ready') return false;
  if (!runGuardOk(task, expectedRunId)) return false;
  clearClaim(task);
  task.status = 'scheduled';
  const runId = endRun(board, task, now, { outcome: 'scheduled', summary: reason });
  appendEvent(board, task.id, 'scheduled', { reason }, runId, now);
  return true;
}

function unblockTask(board: BoardData, task: TaskRow, now: number): boolean {
  if (task.status !== 'blocked' && task.status !== 'scheduled') return false;
  clearClaim(task);
  task.status = parentsSatisfied(board, task.id) ? 'ready' : 'todo';
  task.consecutive_failures = 0;
  appendEvent(board, task.id, 'unblocked', task.status === 'ready' ? null : { status: task.status }, null, now);
  return true;
}

function firstLine(text: string | null | undefined, limit: number): string | null {
  if (!text) return null;
  return (text.split('\n')[0] ?? '').slice(0, limit);
}

async function completeTask(
  bp: BoardPaths,
  board: BoardData,
  task: TaskRow,
  fields: { result: string | null; summary: string | null; metadata: Record<string, unknown> | null },
  expectedRunId: number | null,
  now: number,
): Promise<boolean> {
  if (!['running', 'ready', 'blocked'].includes(task.status)) return false;
  if (!runGuardOk(task, expectedRunId)) return false;
  const handoff = fields.summary ?? fields.result;
  let runId: number | null = null;
  if (task.current_run_id !== null) {
    runId = endRun(board, task, now, { outcome: 'completed', status: 'done', summary: handoff, metadata: fields.metadata });
  } else if (handoff !== null || fields.metadata !== null) {
    // `_synthesize_ended_run`: keep the handoff even without an active run.
    const run = openRun(board, task, task.claim_lock ?? '', now, now);
    runId = endRun(board, task, now, { outcome: 'completed', status: 'done', summary: handoff, metadata: fields.metadata });
    run.claim_lock = null;
    run.claim_expires = null;
  }
  clearClaim(task);
  task.status = 'done';
  task.completed_at = now;
  if (fields.result !== null) task.result = fields.result;
  task.consecutive_failures = 0;
  task.block_kind = null;
  task.block_recurrences = 0;
  task.last_failure_error = null;
  const summary = firstLine(handoff, 400);
  appendEvent(board, task.id, 'completed', summary === null ? null : { summary }, runId, now);
  if (task.workspace_kind === 'scratch') {
    const scratch = path.join(bp.workspacesRoot, task.id);
    if (scratch.startsWith(bp.workspacesRoot + path.sep)) await rm(scratch, { recursive: true, force: true });
  }
  return true;
}

/** `_record_task_failure`: the circuit breaker. True when it tripped (task blocked, `gave_up`). */
function recordFailure(
  board: BoardData,
  task: TaskRow,
  error: string,
  limit: number,
  runId: number | null,
  now: number,
  extra: Record<string, unknown> = {},
): boolean {
  task.consecutive_failures += 1;
  task.last_failure_error = error.slice(0, 500);
  if (task.consecutive_failures < limit) return false;
  if (task.status === 'ready' || task.status === 'running') {
    clearClaim(task);
    task.status = 'blocked';
  }
  appendEvent(
    board,
    task.id,
    'gave_up',
    { failures: task.consecutive_failures, limit, error: error.slice(0, 500), ...extra },
    runId,
    now,
  );
  return true;
}

/** `_has_sticky_block`: the newest blocked/unblocked event is an explicit block. */
function hasStickyBlock(board: BoardData, id: string): boolean {
  for (let i = board.events.length - 1; i >= 0; i -= 1) {
    const event = board.events[i];
    if (!event || event.task_id !== id) continue;
    if (event.kind === 'blocked') return true;
    if (event.kind === 'unblocked') return false;
  }
  return false;
}

/** `recompute_ready`: todo/non-sticky blocked whose parents are done -> ready. */
function recomputeReady(board: BoardData, failureLimit: number, now: number): number {
  let promoted = 0;
  for (const task of board.tasks) {
    if (task.status !== 'todo' && task.status !== 'blocked') continue;
    if (task.status === 'blocked' && hasStickyBlock(board, task.id)) continue;
    if (!parentsSatisfied(board, task.id)) continue;
    if (task.status === 'blocked') {
      const limit = task.max_retries ?? failureLimit;
      if (task.consecutive_failures >= limit) continue;
    }
    task.status = 'ready';
    appendEvent(board, task.id, 'promoted', null, null, now);
    promoted += 1;
  }
  return promoted;
}

function sortedForDispatch(tasks: TaskRow[]): TaskRow[] {
  return [...tasks].sort((a, b) => b.priority - a.priority || a.created_at - b.created_at);
}

function claimTtl(ctx: Ctx, explicit: number | null = null): number {
  if (explicit !== null) return explicit;
  return Math.trunc(ctx.envNumber('HERMES_KANBAN_CLAIM_TTL_SECONDS', DEFAULT_CLAIM_TTL_SECONDS));
}

function scratchPath(bp: BoardPaths, task: TaskRow): string {
  return path.join(bp.workspacesRoot, task.id);
}

function workspaceFor(bp: BoardPaths, task: TaskRow): string {
  if (task.workspace_kind === 'dir' && task.workspace_path) return task.workspace_path;
  if (task.workspace_kind === 'worktree') return task.workspace_path ?? path.join(bp.boardDir, 'worktrees', task.id);
  return scratchPath(bp, task);
}

/** `resolve_workspace` + `set_workspace_path` (worktrees are plain directories here). */
async function resolveWorkspace(bp: BoardPaths, task: TaskRow): Promise<string> {
  const dir = workspaceFor(bp, task);
  await mkdir(dir, { recursive: true });
  task.workspace_path = dir;
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// Processes: liveness, termination, spawning through a supervisor
// ---------------------------------------------------------------------------------------------------------

function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no procfs: trust kill(0)
  }
  return true;
}

function signalWorker(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the worker leads its own session/process group
    return;
  } catch {
    // not a group leader
  }
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after up to 5 s ('The dispatcher'). */
async function terminateWorker(pid: number | null): Promise<Record<string, unknown>> {
  if (!pid || !pidAlive(pid)) return { terminated: false };
  signalWorker(pid, 'SIGTERM');
  for (let i = 0; i < 50; i += 1) {
    await sleep(100);
    if (!pidAlive(pid)) return { terminated: true, signal: 'SIGTERM' };
  }
  signalWorker(pid, 'SIGKILL');
  for (let i = 0; i < 20; i += 1) {
    await sleep(100);
    if (!pidAlive(pid)) break;
  }
  return { terminated: !pidAlive(pid), signal: 'SIGKILL' };
}

function which(name: string, env: HermesEnv): string | null {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // keep looking
    }
  }
  return null;
}

/** `_resolve_hermes_argv`: `$HERMES_BIN` (path-like made absolute), else `hermes` on PATH. */
function hermesExecutable(env: HermesEnv): string {
  const bin = env['HERMES_BIN'];
  if (bin) return bin.includes('/') ? path.resolve(bin) : (which(bin, env) ?? bin);
  return which('hermes', env) ?? 'hermes';
}

interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  log: string;
  board_file: string;
  task_id: string;
  run_id: number;
  lock_timeout_ms: number;
  flock_bin: string;
}

type StartResult = { pid: number; supervisorPid: number } | { error: string };

let tsxLoader: string | undefined;
function tsxLoaderUrl(): string {
  tsxLoader ??= pathToFileURL(require_.resolve('tsx')).href;
  return tsxLoader;
}

/**
 * Starts the detached supervisor, which spawns the worker (new session, cwd = workspace, stdin /dev/null,
 * stdout+stderr appended to the log), reports its pid, waits for it and records the exit in the board.
 */
function startWorker(spec: SpawnSpec): Promise<StartResult> {
  let child: ChildProcess;
  const logFd = openSync(spec.log, 'a');
  try {
    child = spawn(process.execPath, ['--import', tsxLoaderUrl(), CLI_PATH, SUPERVISE_FLAG], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['pipe', 'pipe', logFd],
    });
  } finally {
    closeSync(logFd);
  }
  return new Promise<StartResult>((resolve) => {
    let buffer = '';
    let settled = false;
    const finish = (value: StartResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stdin?.destroy();
      child.unref();
      resolve(value);
    };
    const timer = setTimeout(() => finish({ error: 'supervisor did not report a worker pid within 60 s' }), 60_000);
    child.once('error', (error) => finish({ error: `cannot start the worker supervisor: ${error.message}` }));
    child.once('exit', (code, signal) => finish({ error: `worker supervisor exited early (${code ?? signal})` }));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      try {
        const report = JSON.parse(buffer.slice(0, newline)) as { pid?: number; error?: string };
        if (typeof report.pid === 'number' && child.pid !== undefined) finish({ pid: report.pid, supervisorPid: child.pid });
        else finish({ error: report.error ?? 'worker supervisor reported nothing' });
      } catch {
        finish({ error: `worker supervisor said ${JSON.stringify(buffer.slice(0, newline))}` });
      }
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(spec));
  });
}

/**
 * The supervisor's side (run by `cli.ts` with {@link SUPERVISE_FLAG}): what a gateway's waitpid registry
 * does for its children ('The dispatcher'). `report` receives exactly one JSON line: `{"pid":N}` or `{"error":…}`.
 */
export async function superviseWorker(specText: string, report: (line: string) => void): Promise<number> {
  let spec: SpawnSpec;
  try {
    spec = JSON.parse(specText) as SpawnSpec;
  } catch {
    report(JSON.stringify({ error: 'unreadable spawn spec' }));
    return 2;
  }
  const [command, ...args] = spec.argv;
  if (!command) {
    report(JSON.stringify({ error: 'empty argv' }));
    return 2;
  }
  let child: ChildProcess;
  const logFd = openSync(spec.log, 'a');
  try {
    child = spawn(command, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', logFd, logFd], detached: true });
  } catch (error) {
    closeSync(logFd);
    report(JSON.stringify({ error: (error as Error).message }));
    return 0;
  }
  closeSync(logFd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started = await new Promise<{ pid: number } | { error: string }>((resolve) => {
    child.once('spawn', () => resolve({ pid: child.pid ?? -1 }));
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ error: `${command}: ${error.code ?? ''} ${error.message}`.trim() }));
  });
  report(JSON.stringify(started));
  if ('error' in started) return 0;
  const { code, signal } = await exited;
  let exitedAt: number;
  try {
    exitedAt = Math.floor(clockSeconds(spec.env));
  } catch {
    exitedAt = Math.floor(Date.now() / 1000);
  }
  try {
    const store = new Store(spec.board_file, { timeoutMs: spec.lock_timeout_ms, flockBin: spec.flock_bin });
    await store.update((board) => {
      board.worker_exits.push({
        task_id: spec.task_id,
        run_id: spec.run_id,
        pid: started.pid,
        exit_code: code,
        signal,
        exited_at: exitedAt,
      });
      if (board.worker_exits.length > 500) board.worker_exits.splice(0, board.worker_exits.length - 500);
    });
  } catch {
    // the board is gone (test cleanup): nothing to record
  }
  return 0;
}

function findExit(board: BoardData, task: TaskRow): WorkerExit | undefined {
  return board.worker_exits.find((e) => e.run_id === task.current_run_id && e.pid === task.worker_pid);
}

/** Worker environment ('The dispatcher'): a copy of the dispatcher's plus the kanban variables. */
function workerEnv(ctx: Ctx, bp: BoardPaths, task: TaskRow, runId: number, lock: string, workspace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(ctx.env)) if (value !== undefined) env[key] = value;
  const assignee = task.assignee ?? 'default';
  Object.assign(env, {
    HERMES_HOME: assignee === 'default' ? bp.root : path.join(bp.root, 'profiles', assignee),
    HERMES_PROFILE: assignee,
    HERMES_KANBAN_TASK: task.id,
    HERMES_KANBAN_RUN_ID: String(runId),
    HERMES_KANBAN_CLAIM_LOCK: lock,
    HERMES_KANBAN_WORKSPACE: workspace,
    HERMES_KANBAN_WORKSPACES_ROOT: bp.workspacesRoot,
    HERMES_KANBAN_DB: bp.file,
    HERMES_KANBAN_BOARD: bp.slug,
    TERMINAL_CWD: workspace,
  });
  if (task.branch_name) env['HERMES_KANBAN_BRANCH'] = task.branch_name;
  if (task.tenant) env['HERMES_TENANT'] = task.tenant;
  if (task.goal_mode) {
    env['HERMES_KANBAN_GOAL_MODE'] = '1';
    if (task.goal_max_turns !== null) env['HERMES_KANBAN_GOAL_MAX_TURNS'] = String(task.goal_max_turns);
  }
  if (task.max_runtime_seconds) {
    const timeout = String(Math.max(1, task.max_runtime_seconds - 30));
    env['TERMINAL_TIMEOUT'] = timeout;
    env['TERMINAL_MAX_FOREGROUND_TIMEOUT'] = timeout;
  }
  return env;
}

/** `_default_spawn`'s argv ('Launch'). */
function workerArgv(ctx: Ctx, task: TaskRow): string[] {
  const argv = [hermesExecutable(ctx.env), '-p', task.assignee ?? 'default', '--accept-hooks'];
  for (const skill of task.skills ?? []) argv.push('--skills', skill);
  argv.push('chat', '-q', `work kanban task ${task.id}`);
  return argv;
}

// ---------------------------------------------------------------------------------------------------------
// The dispatcher tick ('The dispatcher')
// ---------------------------------------------------------------------------------------------------------

interface TickResult {
  reclaimed: number;
  crashed: string[];
  timed_out: string[];
  stale: string[];
  auto_blocked: string[];
  promoted: number;
  spawned: [string, string, string | null][];
  skipped_unassigned: string[];
  skipped_nonspawnable: string[];
  skipped_per_profile_capped: [string, string, number][];
  auto_assigned_default: string[];
}

interface TickOptions {
  dryRun: boolean;
  max: number | null;
  failureLimit: number;
}

/** Gives supervisors that are about to record an exit a moment, so a reaped exit is never "unknown". */
async function waitForReapers(store: Store): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const board = await store.read();
    const pending = board.tasks.some(
      (t) =>
        t.status === 'running' &&
        t.worker_pid !== null &&
        !pidAlive(t.worker_pid) &&
        !findExit(board, t) &&
        pidAlive(t.supervisor_pid),
    );
    if (!pending || Date.now() > deadline) return;
    await sleep(50);
  }
}

async function dispatchOnce(ctx: Ctx, bp: BoardPaths, store: Store, options: TickOptions): Promise<TickResult> {
  await waitForReapers(store);
  return store.update(async (board) => {
    const now = ctx.now();
    const res: TickResult = {
      reclaimed: 0,
      crashed: [],
      timed_out: [],
      stale: [],
      auto_blocked: [],
      promoted: 0,
      spawned: [],
      skipped_unassigned: [],
      skipped_nonspawnable: [],
      skipped_per_profile_capped: [],
      auto_assigned_default: [],
    };
    // 1. reap zombies: the supervisors reap. 2. release_stale_claims
    await releaseStaleClaims(ctx, board, res, now);
    // 3. detect_stale_running: disabled for the one-shot CLI and `daemon` (timeout 0; 'The dispatcher').
    // 4. detect_crashed_workers
    detectCrashedWorkers(ctx, board, res, now, options.failureLimit);
    // 5. enforce_max_runtime
    await enforceMaxRuntime(board, res, now, options.failureLimit);
    // 6. recompute_ready
    res.promoted = recomputeReady(board, options.failureLimit, now);
    // 7. spawn
    await spawnReady(ctx, bp, board, res, now, options);
    return res;
  });
}

async function releaseStaleClaims(ctx: Ctx, board: BoardData, res: TickResult, now: number): Promise<void> {
  for (const task of board.tasks) {
    if (task.status !== 'running' || task.claim_expires === null || task.claim_expires >= now) continue;
    const lock = task.claim_lock;
    const hostLocal = (lock ?? '').startsWith(hostPrefix());
    const heartbeat = task.last_heartbeat_at;
    const heartbeatStale = heartbeat !== null && now - heartbeat > CLAIM_HEARTBEAT_MAX_STALE_SECONDS;
    const run = currentRun(board, task);
    if (hostLocal && task.worker_pid && pidAlive(task.worker_pid) && !heartbeatStale) {
      const was = task.claim_expires;
      task.claim_expires = now + claimTtl(ctx);
      if (run) run.claim_expires = task.claim_expires;
      appendEvent(
        board,
        task.id,
        'claim_extended',
        {
          reason: 'pid_alive',
          worker_pid: task.worker_pid,
          claim_lock: lock,
          claim_expires_was: was,
          claim_expires_now: task.claim_expires,
          last_heartbeat_at: heartbeat,
        },
        run?.id ?? null,
        now,
      );
      continue;
    }
    const pid = task.worker_pid;
    const claimExpires = task.claim_expires;
    const termination = hostLocal && pid ? await terminateWorker(pid) : {};
    task.status = 'ready';
    clearClaim(task);
    const runId = endRun(board, task, now, {
      outcome: 'reclaimed',
      error: `stale_lock=${lock}`,
      metadata: Object.keys(termination).length > 0 ? termination : null,
    });
    appendEvent(
      board,
      task.id,
      'reclaimed',
      {
        stale_lock: lock,
        worker_pid: pid,
        claim_expires: claimExpires,
        last_heartbeat_at: heartbeat,
        now,
        host_local: hostLocal,
        heartbeat_stale: heartbeatStale,
        ...termination,
      },
      runId,
      now,
    );
    res.reclaimed += 1;
  }
}

interface DeadWorker {
  eventKind: 'protocol_violation' | 'rate_limited' | 'crashed';
  error: string;
  payload: Record<string, unknown>;
}

function classifyDeadWorker(pid: number, claimer: string | null, exit: WorkerExit | undefined): DeadWorker {
  if (exit && exit.exit_code === 0) {
    return {
      eventKind: 'protocol_violation',
      error: PROTOCOL_VIOLATION_ERROR,
      payload: { pid, claimer, exit_code: 0, protocol_violation: true },
    };
  }
  if (exit && exit.exit_code === RATE_LIMIT_EXIT_CODE) {
    return {
      eventKind: 'rate_limited',
      error: `pid ${pid} exited rate-limited (quota wall) — requeued without counting a failure`,
      payload: { pid, claimer, exit_code: RATE_LIMIT_EXIT_CODE },
    };
  }
  if (exit && exit.exit_code !== null) {
    return {
      eventKind: 'crashed',
      error: `pid ${pid} exited with code ${exit.exit_code}`,
      payload: { pid, claimer, exit_kind: 'nonzero_exit', exit_code: exit.exit_code },
    };
  }
  if (exit && exit.signal) {
    const signum = os.constants.signals[exit.signal as keyof typeof os.constants.signals] ?? null;
    return {
      eventKind: 'crashed',
      error: `pid ${pid} killed by signal ${signum ?? exit.signal}`,
      payload: { pid, claimer, exit_kind: 'signaled', exit_code: signum },
    };
  }
  return { eventKind: 'crashed', error: `pid ${pid} not alive`, payload: { pid, claimer } };
}

function detectCrashedWorkers(ctx: Ctx, board: BoardData, res: TickResult, now: number, failureLimit: number): void {
  const grace = ctx.envNumber('HERMES_KANBAN_CRASH_GRACE_SECONDS', DEFAULT_CRASH_GRACE_SECONDS);
  for (const task of board.tasks) {
    if (task.status !== 'running' || !task.worker_pid) continue;
    if (!(task.claim_lock ?? '').startsWith(hostPrefix())) continue;
    if (task.started_at !== null && now - task.started_at < grace) continue;
    if (pidAlive(task.worker_pid)) continue;
    const exit = findExit(board, task);
    if (!exit && pidAlive(task.supervisor_pid)) continue; // still being reaped; the next tick sees it
    const pid = task.worker_pid;
    const dead = classifyDeadWorker(pid, task.claim_lock, exit);
    task.status = 'ready';
    clearClaim(task);
    const outcome = dead.eventKind === 'rate_limited' ? 'rate_limited' : 'crashed';
    const runId = endRun(board, task, now, { outcome, error: dead.error, metadata: { ...dead.payload } });
    appendEvent(board, task.id, dead.eventKind, dead.payload, runId, now);
    if (dead.eventKind === 'rate_limited') continue; // not a failure; the respawn guard defers it
    res.crashed.push(task.id);
    const limit =
      task.max_retries ?? (dead.eventKind === 'protocol_violation' ? PROTOCOL_VIOLATION_FAILURE_LIMIT : failureLimit);
    if (recordFailure(board, task, dead.error, limit, runId, now, { pid, outcome })) res.auto_blocked.push(task.id);
  }
}

async function enforceMaxRuntime(board: BoardData, res: TickResult, now: number, failureLimit: number): Promise<void> {
  for (const task of board.tasks) {
    if (task.status !== 'running' || !task.worker_pid || !task.max_runtime_seconds) continue;
    if (!(task.claim_lock ?? '').startsWith(hostPrefix())) continue;
    const run = currentRun(board, task);
    const started = run?.started_at ?? task.started_at ?? now;
    const elapsed = now - started;
    if (elapsed < task.max_runtime_seconds) continue;
    const pid = task.worker_pid;
    const termination = await terminateWorker(pid);
    task.status = 'ready';
    clearClaim(task);
    const error = `elapsed ${elapsed}s exceeded max_runtime ${task.max_runtime_seconds}s`;
    const runId = endRun(board, task, now, { outcome: 'timed_out', error, metadata: termination });
    appendEvent(
      board,
      task.id,
      'timed_out',
      { pid, elapsed_seconds: elapsed, max_runtime_seconds: task.max_runtime_seconds, ...termination },
      runId,
      now,
    );
    res.timed_out.push(task.id);
    const limit = task.max_retries ?? failureLimit;
    if (recordFailure(board, task, error, limit, runId, now, { pid, outcome: 'timed_out' })) res.auto_blocked.push(task.id);
  }
}

const PR_URL = /https?:\/\/github\.com\/[^/\s]+\/[^/\s]+\/pull\/\d+/;

/** `check_respawn_guard` ('The dispatcher', respawn guard), minus the quota/auth regex on last_failure_error. */
function respawnGuard(ctx: Ctx, board: BoardData, task: TaskRow, now: number): Record<string, unknown> | null {
  const runs = board.runs.filter((r) => r.task_id === task.id);
  const last = runs[runs.length - 1];
  const cooldown = ctx.envNumber('HERMES_KANBAN_RATE_LIMIT_COOLDOWN_SECONDS', DEFAULT_RATE_LIMIT_COOLDOWN_SECONDS);
  if (last?.outcome === 'rate_limited' && last.ended_at !== null && now - last.ended_at < cooldown) {
    return { reason: 'rate_limit_cooldown', retry_after_seconds: last.ended_at + cooldown - now };
  }
  const completed = runs.filter((r) => r.outcome === 'completed' && r.ended_at !== null && now - r.ended_at < RECENT_COMPLETION_GUARD_SECONDS);
  const recent = completed[completed.length - 1];
  if (recent) return { reason: 'recent_completion', run_id: recent.id };
  for (const comment of board.comments) {
    if (comment.task_id !== task.id || now - comment.created_at > ACTIVE_PR_GUARD_SECONDS) continue;
    const match = PR_URL.exec(comment.body);
    if (match) return { reason: 'active_pr', url: match[0] };
  }
  return null;
}

async function spawnReady(ctx: Ctx, bp: BoardPaths, board: BoardData, res: TickResult, now: number, options: TickOptions): Promise<void> {
  const ready = sortedForDispatch(board.tasks.filter((t) => t.status === 'ready'));
  for (const task of ready) {
    if (!task.assignee) {
      res.skipped_unassigned.push(task.id);
      continue;
    }
    if (!profileExists(bp.root, task.assignee)) {
      res.skipped_nonspawnable.push(task.id);
      continue;
    }
    if (options.max !== null && res.spawned.length >= options.max) break;
    const guard = respawnGuard(ctx, board, task, now);
    if (guard) {
      appendEvent(board, task.id, 'respawn_guarded', guard, null, now);
      continue;
    }
    if (options.dryRun) {
      res.spawned.push([task.id, task.assignee, workspaceFor(bp, task)]);
      continue;
    }
    const lock = claimerId();
    const run = claimTask(board, task, lock, claimTtl(ctx), now);
    if (!run) continue;
    const workspace = await resolveWorkspace(bp, task);
    await mkdir(bp.logsDir, { recursive: true });
    const spec: SpawnSpec = {
      argv: workerArgv(ctx, task),
      cwd: workspace,
      env: workerEnv(ctx, bp, task, run.id, lock, workspace),
      log: path.join(bp.logsDir, `${task.id}.log`),
      board_file: bp.file,
      task_id: task.id,
      run_id: run.id,
      lock_timeout_ms: lockSettings(ctx.env).timeoutMs,
      flock_bin: flockBin(ctx.env),
    };
    const started = await startWorker(spec);
    if ('error' in started) {
      task.status = 'ready';
      clearClaim(task);
      const runId = endRun(board, task, now, { outcome: 'spawn_failed', error: started.error });
      appendEvent(board, task.id, 'spawn_failed', { error: started.error }, runId, now);
      const limit = task.max_retries ?? options.failureLimit;
      if (recordFailure(board, task, started.error, limit, runId, now, { outcome: 'spawn_failed' })) res.auto_blocked.push(task.id);
      continue;
    }
    task.worker_pid = started.pid;
    task.supervisor_pid = started.supervisorPid;
    run.worker_pid = started.pid;
    appendEvent(board, task.id, 'spawned', { pid: started.pid }, run.id, now);
    res.spawned.push([task.id, task.assignee, workspace]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Entry: `hermes kanban [--board <slug>] <verb> …`
// ---------------------------------------------------------------------------------------------------------

const KANBAN_USAGE = `usage: hermes kanban [-h] [--board <slug>] {${allVerbNames().join(',')}} ...`;

async function main(ctx: Ctx, argv: string[]): Promise<number> {
  if (argv[0] !== 'kanban') throw standinError("only 'kanban' is implemented");
  const tokens = argv.slice(1);
  let board: string | null = null;
  let index = 0;
  for (; index < tokens.length; index += 1) {
    const token = tokens[index] ?? '';
    if (token === '-h' || token === '--help') {
      ctx.out(KANBAN_USAGE);
      return 0;
    }
    if (token === '--board' || (token.startsWith('--b') && '--board'.startsWith(token) && token.length > 2)) {
      const value = tokens[index + 1];
      if (value === undefined || looksLikeOption(value)) throw usageError('hermes kanban', KANBAN_USAGE, 'argument --board: expected one argument');
      board = value;
      index += 1;
      continue;
    }
    if (token.startsWith('--board=')) {
      board = token.slice('--board='.length);
      continue;
    }
    if (looksLikeOption(token)) {
      throw usageError('hermes', 'usage: hermes [-h] [--version] {kanban,…} ...', `unrecognized arguments: ${token}`);
    }
    break;
  }
  const verbName = tokens[index];
  if (verbName === undefined) {
    ctx.out(KANBAN_USAGE);
    return 0;
  }
  const rest = tokens.slice(index + 1);
  if (UNIMPLEMENTED_VERBS.includes(verbName)) throw standinError(`'kanban ${verbName}' is not implemented`);
  const spec = VERBS.find((verb) => verb.name === verbName || verb.aliases?.includes(verbName));
  if (!spec) {
    throw usageError(
      'hermes kanban',
      KANBAN_USAGE,
      `argument kanban_action: invalid choice: ${pyRepr(verbName)} (choose from ${allVerbNames().map((n) => pyRepr(n)).join(', ')})`,
    );
  }
  const prog = `hermes kanban ${verbName}`;
  const args = parseArgs(prog, spec, rest);
  if (board !== null && board.trim() === '') throw kanbanError('--board requires a slug', 2);
  const bp = resolveBoardPaths(ctx.env, board);
  const store = new Store(bp.file, lockSettings(ctx.env));
  try {
    await store.ensure();
  } catch (error) {
    if (error instanceof CliExit) throw error;
    throw kanbanError(`could not initialize database: ${(error as Error).message}`);
  }
  const handler = HANDLERS[spec.name];
  if (!handler) throw standinError(`'kanban ${verbName}' is not implemented`);
  return handler({ ctx, bp, store, args, prog, usage: usageOf(prog, spec) });
}

interface Call {
  ctx: Ctx;
  bp: BoardPaths;
  store: Store;
  args: Args;
  prog: string;
  usage: string;
}

type Handler = (call: Call) => Promise<number>;

function parseDuration(raw: string | null): number | null {
  if (raw === null || raw === '') return null;
  const s = raw.trim().toLowerCase();
  if (/^[-+]?\d+$/.test(s)) return Number.parseInt(s, 10);
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const unit = units[s.slice(-1)];
  if (s !== '' && unit !== undefined) {
    const n = Number(s.slice(0, -1));
    if (s.slice(0, -1).trim() === '' || !Number.isFinite(n)) throw new Error(`malformed duration ${pyRepr(raw)}`);
    return Math.trunc(n * unit);
  }
  throw new Error(`malformed duration ${pyRepr(raw)} (expected 30s, 5m, 2h, 1d, or a number)`);
}

function parseWorkspace(value: string | null): [string, string | null] {
  if (!value) return ['scratch', null];
  const v = value.trim();
  if (v === 'scratch' || v === 'worktree') return [v, null];
  for (const [prefix, kind] of [['dir:', 'dir'], ['worktree:', 'worktree']] as const) {
    if (!v.startsWith(prefix)) continue;
    const p = v.slice(prefix.length).trim();
    if (!p) throw kanbanError(`--workspace ${prefix} requires a path after the colon`, 2);
    return [kind, p.startsWith('~') ? path.join(os.homedir(), p.slice(1)) : p];
  }
  throw kanbanError(`unknown --workspace value ${pyRepr(value)}: use scratch, worktree, worktree:<path>, or dir:<path>`, 2);
}

function parseMetadata(raw: string | null): Record<string, unknown> | null {
  if (!raw) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw kanbanError(`--metadata: ${(error as Error).message}`, 2);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw kanbanError('--metadata: must be a JSON object', 2);
  return value as Record<string, unknown>;
}

function newTaskId(board: BoardData): string {
  for (;;) {
    const id = `t_${randomBytes(4).toString('hex')}`;
    if (!getTask(board, id)) return id;
  }
}

function validateSkills(skills: string[]): string[] | null {
  if (skills.length === 0) return null;
  const out: string[] = [];
  for (const raw of skills) {
    const skill = raw.trim();
    if (!skill) throw kanbanError('skill names must be non-empty');
    if (skill.includes(',')) throw kanbanError(`skill name ${pyRepr(skill)} contains a comma; pass --skill once per skill`);
    if (TOOLSET_NAMES.has(skill)) {
      throw kanbanError(`${pyRepr(skill)} is a toolset, not a skill; configure toolsets on the profile instead`);
    }
    if (!out.includes(skill)) out.push(skill);
  }
  return out;
}

const cmdInit: Handler = async ({ ctx, bp }) => {
  ctx.out(`Kanban DB initialized at ${bp.file}`);
  ctx.out();
  const profiles = profileNames(bp.root);
  if (profiles.length > 0) {
    ctx.out(`Discovered ${profiles.length} profile(s) on disk; any of these can be an --assignee:`);
    for (const name of profiles) ctx.out(`  ${name}`);
  } else {
    ctx.out('No profiles found under ~/.hermes/profiles/.');
    ctx.out('Create one with `hermes -p <name> setup` before assigning tasks.');
  }
  ctx.out();
  ctx.out('Next step: start the gateway so ready tasks actually get picked up.');
  ctx.out('  hermes gateway start');
  ctx.out();
  ctx.out(
    'The gateway hosts an embedded dispatcher that ticks every 60 seconds\n' +
      'by default (config: kanban.dispatch_interval_seconds). Without a\n' +
      "running gateway, tasks stay in 'ready' forever.",
  );
  return 0;
};

const cmdCreate: Handler = async ({ ctx, store, args }) => {
  const [workspaceKind, workspacePath] = parseWorkspace(str(args, 'workspace'));
  const branch = str(args, 'branch');
  if (branch !== null) {
    const b = branch.trim();
    if (!b) throw kanbanError('--branch requires a non-empty name', 2);
    if (b.startsWith('-')) throw kanbanError("--branch must not start with '-'", 2);
    if (/\s/.test(b)) throw kanbanError('--branch must not contain whitespace', 2);
    if (workspaceKind !== 'worktree') throw kanbanError('--branch is only valid with --workspace worktree', 2);
  }
  let maxRuntime: number | null;
  try {
    maxRuntime = parseDuration(str(args, 'max_runtime'));
  } catch (error) {
    throw kanbanError(`--max-runtime: ${(error as Error).message}`, 2);
  }
  const maxRetries = num(args, 'max_retries');
  if (maxRetries !== null && maxRetries < 1) {
    throw kanbanError(`--max-retries must be >= 1 (got ${maxRetries}); use 1 to trip on the first failure.`, 2);
  }
  if (workspaceKind === 'dir' && workspacePath !== null && !path.isAbsolute(workspacePath)) {
    throw kanbanError(`dir workspace path must be absolute (got ${pyRepr(workspacePath)})`);
  }
  const skills = validateSkills(list(args, 'skills'));
  const parents = list(args, 'parent');
  const goalMode = bool(args, 'goal_mode');
  const json = bool(args, 'json');
  const task = await store.update((board) => {
    const now = ctx.now();
    const key = str(args, 'idempotency_key');
    if (key) {
      const existing = board.tasks.find((t) => t.idempotency_key === key && t.status !== 'archived');
      if (existing) return { ...existing };
    }
    for (const parent of parents) if (!getTask(board, parent)) throw kanbanError(`unknown parent task ${parent}`);
    let status: string;
    if (str(args, 'initial_status') === 'blocked') status = 'blocked';
    else if (bool(args, 'triage')) status = 'triage';
    else if (parents.some((p) => !['done', 'archived'].includes(getTask(board, p)?.status ?? ''))) status = 'todo';
    else status = 'ready';
    const id = newTaskId(board);
    const row: TaskRow = {
      id,
      title: str(args, 'title') ?? '',
      body: str(args, 'body'),
      assignee: str(args, 'assignee'),
      status,
      priority: num(args, 'priority') ?? 0,
      created_by: str(args, 'created_by') || profileAuthor(ctx.env),
      created_at: now,
      started_at: null,
      completed_at: null,
      workspace_kind: workspaceKind,
      workspace_path: workspacePath,
      branch_name: branch?.trim() ?? null,
      project_id: str(args, 'project'),
      claim_lock: null,
      claim_expires: null,
      tenant: str(args, 'tenant'),
      result: null,
      idempotency_key: key,
      consecutive_failures: 0,
      worker_pid: null,
      last_failure_error: null,
      max_runtime_seconds: maxRuntime,
      last_heartbeat_at: null,
      current_run_id: null,
      workflow_template_id: null,
      current_step_key: null,
      skills,
      model_override: null,
      max_retries: maxRetries,
      goal_mode: goalMode ? 1 : 0,
      goal_max_turns: num(args, 'goal_max_turns'),
      session_id: null,
      block_kind: null,
      block_recurrences: 0,
      supervisor_pid: null,
    };
    board.tasks.push(row);
    for (const parent of parents) {
      if (!board.links.some((l) => l.parent_id === parent && l.child_id === id)) board.links.push({ parent_id: parent, child_id: id });
    }
    const payload: Record<string, unknown> = { assignee: row.assignee, status, parents, tenant: row.tenant };
    if (goalMode) {
      payload['goal_mode'] = true;
      payload['goal_max_turns'] = row.goal_max_turns;
    }
    appendEvent(board, id, 'created', payload, null, now);
    if (status === 'blocked') appendEvent(board, id, 'blocked', { reason: null, kind: null, initial_status: true }, null, now);
    return { ...row };
  });
  if (json) {
    ctx.out(pyJson(taskToDict(task), false));
  } else {
    ctx.out(`Created ${task.id}  (${task.status}, assignee=${task.assignee || '-'})`);
    if (task.status === 'ready' && task.assignee) ctx.err(NO_GATEWAY_WARNING);
  }
  return 0;
};

function sortTasks(tasks: TaskRow[], order: string | null, board: BoardData): TaskRow[] {
  const copy = [...tasks];
  const byCreated = (a: TaskRow, b: TaskRow): number => a.created_at - b.created_at;
  const lastEvent = (t: TaskRow): number => {
    for (let i = board.events.length - 1; i >= 0; i -= 1) if (board.events[i]?.task_id === t.id) return board.events[i]?.id ?? 0;
    return 0;
  };
  switch (order) {
    case 'created':
      return copy.sort(byCreated);
    case 'created-desc':
      return copy.sort((a, b) => b.created_at - a.created_at);
    case 'status':
    case 'assignee':
    case 'title':
      return copy.sort((a, b) => String(a[order] ?? '').localeCompare(String(b[order] ?? '')) || byCreated(a, b));
    case 'updated':
      return copy.sort((a, b) => lastEvent(b) - lastEvent(a));
    case 'priority-desc':
    case 'priority':
    default:
      return copy.sort((a, b) => b.priority - a.priority || byCreated(a, b));
  }
}

const cmdList: Handler = async ({ ctx, store, args }) => {
  let assignee = str(args, 'assignee');
  if (bool(args, 'mine') && !assignee) assignee = profileAuthor(ctx.env);
  const status = str(args, 'status');
  const tasks = await store.update((board) => {
    recomputeReady(board, DEFAULT_FAILURE_LIMIT, ctx.now());
    const filtered = board.tasks.filter(
      (t) =>
        (assignee === null || t.assignee === assignee) &&
        (status === null || t.status === status) &&
        (bool(args, 'archived') || status === 'archived' || t.status !== 'archived') &&
        (str(args, 'tenant') === null || t.tenant === str(args, 'tenant')) &&
        (str(args, 'session') === null || t.session_id === str(args, 'session')) &&
        (str(args, 'workflow_template_id') === null || t.workflow_template_id === str(args, 'workflow_template_id')) &&
        (str(args, 'current_step_key') === null || t.current_step_key === str(args, 'current_step_key')),
    );
    return sortTasks(filtered, str(args, 'sort'), board).map((t) => ({ ...t }));
  });
  if (bool(args, 'json')) {
    ctx.out(pyJson(tasks.map(taskToDict), false));
    return 0;
  }
  if (tasks.length === 0) {
    ctx.out('(no matching tasks)');
    return 0;
  }
  for (const t of tasks) {
    const tenant = t.tenant ? ` [${t.tenant}]` : '';
    ctx.out(`${STATUS_ICONS[t.status] ?? '?'} ${t.id}  ${t.status.padEnd(8)}  ${(t.assignee || '(unassigned)').padEnd(20)}${tenant}  ${t.title}`);
  }
  return 0;
};

function filterRuns(runs: RunRow[], args: Args, verb: string): RunRow[] {
  const stateType = str(args, 'state_type');
  const stateName = str(args, 'state_name');
  if ((stateType === null) !== (stateName === null)) {
    throw new CliExit(2, `kanban ${verb}: pass both --state-type and --state-name, or omit both`);
  }
  if (stateType === null) return runs;
  return runs.filter((r) => (stateType === 'status' ? r.status : r.outcome) === stateName);
}

function latestSummary(board: BoardData, id: string): string | null {
  const runs = board.runs.filter((r) => r.task_id === id && r.summary !== null);
  return runs[runs.length - 1]?.summary ?? null;
}

function commentsOf(board: BoardData, id: string): CommentRow[] {
  return board.comments.filter((c) => c.task_id === id).sort((a, b) => a.created_at - b.created_at || a.id - b.id);
}

const cmdShow: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const board = await store.read();
  const runs = filterRuns(board.runs.filter((r) => r.task_id === id), args, 'show');
  const task = getTask(board, id);
  if (!task) throw new CliExit(1, `no such task: ${id}`);
  const comments = commentsOf(board, id);
  const events = board.events.filter((e) => e.task_id === id);
  const parents = parentIds(board, id);
  const children = childIds(board, id);
  const summary = latestSummary(board, id);
  if (bool(args, 'json')) {
    ctx.out(
      pyJson(
        {
          task: taskToDict(task),
          latest_summary: summary,
          parents,
          children,
          comments: comments.map((c) => ({ author: c.author, body: c.body, created_at: c.created_at })),
          events: events.map((e) => ({ kind: e.kind, payload: e.payload, created_at: e.created_at, run_id: e.run_id })),
          runs: runs.map(runToShowDict),
        },
        false,
      ),
    );
    return 0;
  }
  ctx.out(`Task ${task.id}: ${task.title}`);
  ctx.out(`  status:    ${task.status}`);
  ctx.out(`  assignee:  ${task.assignee || '-'}`);
  if (task.tenant) ctx.out(`  tenant:    ${task.tenant}`);
  ctx.out(`  workspace: ${task.workspace_kind}${task.workspace_path ? ` @ ${task.workspace_path}` : ''}`);
  if (task.branch_name) ctx.out(`  branch:    ${task.branch_name}`);
  if (task.skills?.length) ctx.out(`  skills:    ${task.skills.join(', ')}`);
  if (task.max_retries !== null) ctx.out(`  max-retries: ${task.max_retries} (task)`);
  else ctx.out(`  max-retries: ${DEFAULT_FAILURE_LIMIT} (default)`);
  ctx.out(`  created:   ${fmtTs(task.created_at)} by ${task.created_by || '-'}`);
  if (task.started_at) ctx.out(`  started:   ${fmtTs(task.started_at)}`);
  if (task.completed_at) ctx.out(`  completed: ${fmtTs(task.completed_at)}`);
  if (parents.length) ctx.out(`  parents:   ${parents.join(', ')}`);
  if (children.length) ctx.out(`  children:  ${children.join(', ')}`);
  if (task.body) {
    ctx.out();
    ctx.out('Body:');
    ctx.out(task.body);
  }
  if (task.result) {
    ctx.out();
    ctx.out('Result:');
    ctx.out(task.result);
  } else if (summary) {
    ctx.out();
    ctx.out('Latest summary:');
    ctx.out(summary);
  }
  if (comments.length) {
    ctx.out();
    ctx.out(`Comments (${comments.length}):`);
    for (const c of comments) ctx.out(`  [${fmtTs(c.created_at)}] ${c.author}: ${c.body}`);
  }
  if (events.length) {
    ctx.out();
    ctx.out(`Events (${events.length}):`);
    for (const e of events.slice(-20)) {
      const payload = e.payload && Object.keys(e.payload).length > 0 ? ` ${pyRepr(e.payload)}` : '';
      const runTag = e.run_id ? ` [run ${e.run_id}]` : '';
      ctx.out(`  [${fmtTs(e.created_at)}]${runTag} ${e.kind}${payload}`);
    }
  }
  if (runs.length) {
    ctx.out();
    ctx.out(`Runs (${runs.length}):`);
    for (const r of runs) {
      const elapsed = r.ended_at ? `${Math.max(0, r.ended_at - r.started_at)}s` : 'active';
      const outcome = r.outcome || r.status || 'active';
      ctx.out(`  #${String(r.id).padEnd(3)} ${outcome.padEnd(12)} @${r.profile || '-'}  ${elapsed}  ${fmtTs(r.started_at)}`);
      if (r.summary) ctx.out(`        → ${(r.summary.split('\n')[0] ?? '').slice(0, 160)}`);
      if (r.error) ctx.out(`        ! ${(r.error.split('\n')[0] ?? '').slice(0, 160)}`);
    }
  }
  return 0;
};

function profileArg(value: string): string | null {
  return ['none', '-', 'null'].includes(value.toLowerCase()) ? null : value;
}

const cmdAssign: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const profile = profileArg(str(args, 'profile') ?? '');
  const ok = await store.update((board) => {
    const task = getTask(board, id);
    if (!task) return false;
    if (task.status === 'running') throw kanbanError(`cannot reassign ${id} while it is running; reclaim it first`);
    task.assignee = profile;
    appendEvent(board, id, 'assigned', { assignee: profile }, null, ctx.now());
    return true;
  });
  if (!ok) throw new CliExit(1, `no such task: ${id}`);
  ctx.out(`Assigned ${id} to ${profile || '(unassigned)'}`);
  return 0;
};

async function reclaimInBoard(board: BoardData, id: string, reason: string | null, now: number): Promise<boolean> {
  const task = getTask(board, id);
  if (!task) return false;
  if (task.status !== 'running' && task.claim_lock === null) return false;
  const prevLock = task.claim_lock;
  const termination = await terminateWorker(task.worker_pid);
  task.status = 'ready';
  clearClaim(task);
  const runId = endRun(board, task, now, {
    outcome: 'reclaimed',
    error: reason ? `manual_reclaim: ${reason}` : `manual_reclaim lock=${prevLock}`,
    metadata: termination,
  });
  appendEvent(board, id, 'reclaimed', { manual: true, reason, prev_lock: prevLock, ...termination }, runId, now);
  return true;
}

const cmdReclaim: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const ok = await store.update((board) => reclaimInBoard(board, id, str(args, 'reason'), ctx.now()));
  if (!ok) throw new CliExit(1, `cannot reclaim ${id} (not running or unknown id)`);
  ctx.out(`Reclaimed ${id}`);
  return 0;
};

const cmdReassign: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const profile = profileArg(str(args, 'profile') ?? '');
  const reclaim = bool(args, 'reclaim');
  const ok = await store.update(async (board) => {
    const now = ctx.now();
    if (reclaim) await reclaimInBoard(board, id, str(args, 'reason') ?? 'reassign', now);
    const task = getTask(board, id);
    if (!task || task.status === 'running') return false;
    task.assignee = profile;
    appendEvent(board, id, 'assigned', { assignee: profile }, null, now);
    return true;
  });
  if (!ok) throw new CliExit(1, `cannot reassign ${id} (unknown id, or still running — pass --reclaim to release first)`);
  ctx.out(`Reassigned ${id} to ${profile || '(unassigned)'}${reclaim ? ' (claim reclaimed)' : ''}`);
  return 0;
};

const cmdLink: Handler = async ({ ctx, store, args }) => {
  const parent = str(args, 'parent_id') ?? '';
  const child = str(args, 'child_id') ?? '';
  await store.update((board) => {
    requireTask(board, parent);
    const childTask = requireTask(board, child);
    if (parent === child) throw kanbanError('a task cannot depend on itself');
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
      if (from === to) return true;
      if (seen.has(from)) return false;
      seen.add(from);
      return childIds(board, from).some((next) => reaches(next, to, seen));
    };
    if (reaches(child, parent)) throw kanbanError(`linking ${parent} -> ${child} would create a cycle`);
    if (!board.links.some((l) => l.parent_id === parent && l.child_id === child)) board.links.push({ parent_id: parent, child_id: child });
    const now = ctx.now();
    appendEvent(board, child, 'linked', { parent, child }, null, now);
    if (childTask.status === 'ready' && !parentsSatisfied(board, child)) childTask.status = 'todo';
  });
  ctx.out(`Linked ${parent} -> ${child}`);
  return 0;
};

const cmdUnlink: Handler = async ({ ctx, store, args }) => {
  const parent = str(args, 'parent_id') ?? '';
  const child = str(args, 'child_id') ?? '';
  const ok = await store.update((board) => {
    const index = board.links.findIndex((l) => l.parent_id === parent && l.child_id === child);
    if (index < 0) return false;
    board.links.splice(index, 1);
    appendEvent(board, child, 'unlinked', { parent, child }, null, ctx.now());
    return true;
  });
  if (!ok) throw new CliExit(1, `No such link: ${parent} -> ${child}`);
  ctx.out(`Unlinked ${parent} -> ${child}`);
  return 0;
};

const cmdClaim: Handler = async ({ ctx, bp, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const outcome = await store.update(async (board): Promise<{ workspace: string } | { error: string }> => {
    const task = getTask(board, id);
    if (!task) return { error: `no such task: ${id}` };
    const run = claimTask(board, task, claimerId(), claimTtl(ctx, num(args, 'ttl')), ctx.now());
    if (!run) return { error: `cannot claim ${id}: status=${task.status} lock=${task.claim_lock || '(none)'}` };
    return { workspace: await resolveWorkspace(bp, task) };
  });
  if ('error' in outcome) throw new CliExit(1, outcome.error);
  ctx.out(`Claimed ${id}`);
  ctx.out(`Workspace: ${outcome.workspace}`);
  return 0;
};

const cmdComment: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  let body = list(args, 'text').join(' ').trim();
  const maxLen = num(args, 'max_len');
  if (maxLen !== null) {
    if (maxLen < 1) throw kanbanError('--max-len must be positive', 2);
    if (body.length > maxLen) {
      const suffix = `\n\n[trimmed to ${maxLen} chars by --max-len]`;
      body = body.slice(0, Math.max(0, maxLen - suffix.length)).trimEnd() + suffix;
    }
  }
  const author = str(args, 'author') || profileAuthor(ctx.env);
  await store.update((board) => addComment(board, id, author, body, ctx.now()));
  ctx.out(`Comment added to ${id}`);
  return 0;
};

const cmdComplete: Handler = async ({ ctx, bp, store, args }) => {
  const ids = list(args, 'task_ids');
  const summary = str(args, 'summary');
  const rawMeta = str(args, 'metadata');
  if (ids.length > 1 && (summary || rawMeta)) {
    throw new CliExit(
      2,
      "kanban: --summary / --metadata are per-task and can't be used with multiple ids (would apply the same handoff " +
        'to every task). Complete tasks one at a time, or drop the flags for the bulk close.',
    );
  }
  const metadata = parseMetadata(rawMeta);
  let failed = 0;
  for (const id of ids) {
    const ok = await store.update((board) => {
      const task = getTask(board, id);
      if (!task) return false;
      return completeTask(bp, board, task, { result: str(args, 'result'), summary, metadata }, workerRunIdFor(ctx.env, id), ctx.now());
    });
    if (ok) ctx.out(`Completed ${id}`);
    else {
      failed += 1;
      ctx.err(`cannot complete ${id} (unknown id or terminal state)`);
    }
  }
  return failed === 0 ? 0 : 1;
};

const cmdEdit: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const metadata = parseMetadata(str(args, 'metadata'));
  const ok = await store.update((board) => {
    const task = getTask(board, id);
    if (!task || task.status !== 'done') return false;
    const result = str(args, 'result');
    task.result = result;
    const completed = board.runs.filter((r) => r.task_id === id && r.outcome === 'completed');
    const last = completed[completed.length - 1];
    if (last) {
      last.summary = str(args, 'summary') ?? result;
      if (metadata !== null) last.metadata = metadata;
    }
    appendEvent(board, id, 'edited', { fields: ['result'] }, null, ctx.now());
    return true;
  });
  if (!ok) throw new CliExit(1, `cannot edit ${id} (unknown id or task is not done)`);
  ctx.out(`Edited ${id}`);
  return 0;
};

const cmdBlock: Handler = async ({ ctx, store, args }) => {
  const words = list(args, 'reason');
  const reason = words.length > 0 ? words.join(' ').trim() : null;
  const kind = str(args, 'kind');
  const author = profileAuthor(ctx.env);
  const ids = [str(args, 'task_id') ?? '', ...list(args, 'ids')];
  let failed = 0;
  for (const id of ids) {
    // The BLOCKED echo is its own write, before (and whatever) the block itself does (kanban.py:1939-2018).
    if (reason) await store.update((board) => addComment(board, id, author, `BLOCKED: ${reason}`, ctx.now()));
    const landed = await store.update((board) => {
      const task = getTask(board, id);
      if (!task) return null;
      return blockTask(board, task, reason, kind, workerRunIdFor(ctx.env, id), ctx.now()) ? task.status : null;
    });
    const suffix = reason ? `: ${reason}` : '';
    if (landed === null) {
      failed += 1;
      ctx.err(`cannot block ${id}`);
    } else if (landed === 'todo') ctx.out(`${id} → todo (dependency wait)${suffix}`);
    else if (landed === 'triage') ctx.out(`${id} → triage (unblock loop detected — needs a human decision)${suffix}`);
    else ctx.out(`Blocked ${id}${suffix}`);
  }
  return failed === 0 ? 0 : 1;
};

const cmdSchedule: Handler = async ({ ctx, store, args }) => {
  const words = list(args, 'reason');
  const reason = words.length > 0 ? words.join(' ').trim() : null;
  const author = profileAuthor(ctx.env);
  const ids = [str(args, 'task_id') ?? '', ...list(args, 'ids')];
  let failed = 0;
  for (const id of ids) {
    if (reason) await store.update((board) => addComment(board, id, author, `SCHEDULED: ${reason}`, ctx.now()));
    const ok = await store.update((board) => {
      const task = getTask(board, id);
      return task ? scheduleTask(board, task, reason, workerRunIdFor(ctx.env, id), ctx.now()) : false;
    });
    if (ok) ctx.out(`Scheduled ${id}${reason ? `: ${reason}` : ''}`);
    else {
      failed += 1;
      ctx.err(`cannot schedule ${id}`);
    }
  }
  return failed === 0 ? 0 : 1;
};

const cmdUnblock: Handler = async ({ ctx, store, args }) => {
  const ids = list(args, 'task_ids');
  const rawReason = str(args, 'reason');
  const reason = rawReason === null ? null : rawReason.trim() || null;
  const author = profileAuthor(ctx.env);
  let failed = 0;
  for (const id of ids) {
    if (reason) await store.update((board) => addComment(board, id, author, `UNBLOCK: ${reason}`, ctx.now()));
    const ok = await store.update((board) => {
      const task = getTask(board, id);
      return task ? unblockTask(board, task, ctx.now()) : false;
    });
    if (ok) ctx.out(`Unblocked ${id}${reason ? `: ${reason}` : ''}`);
    else {
      failed += 1;
      ctx.err(`cannot unblock ${id} (not blocked/scheduled?)`);
    }
  }
  return failed === 0 ? 0 : 1;
};

const cmdPromote: Handler = async ({ ctx, store, args }) => {
  const words = list(args, 'reason');
  const reason = words.length > 0 ? words.join(' ').trim() : null;
  const ids = [...new Set([str(args, 'task_id') ?? '', ...list(args, 'ids')])];
  const dryRun = bool(args, 'dry_run');
  const force = bool(args, 'force');
  const author = profileAuthor(ctx.env);
  const results = await store.update((board) =>
    ids.map((id) => {
      const task = getTask(board, id);
      let error: string | null = null;
      if (!task) error = 'unknown task';
      else if (task.status !== 'todo' && task.status !== 'blocked') error = `status is ${task.status} (only todo/blocked can be promoted)`;
      else if (!force && !parentsSatisfied(board, id)) error = 'parents not done (use --force to override)';
      if (task && error === null && !dryRun) {
        task.status = 'ready';
        appendEvent(board, id, 'promoted', { reason, actor: author, forced: force }, null, ctx.now());
      }
      return { task_id: id, promoted: error === null, dry_run: dryRun, forced: force, reason, error };
    }),
  );
  const failed = results.filter((r) => !r.promoted).length;
  if (bool(args, 'json')) {
    ctx.out(pyJson(results.length === 1 ? results[0] : results, false));
    return failed === 0 ? 0 : 1;
  }
  for (const r of results) {
    if (r.promoted) ctx.out(`${dryRun ? 'Would promote' : 'Promoted'} ${r.task_id} -> ready${dryRun ? ' (dry)' : ''}${reason ? `: ${reason}` : ''}`);
    else ctx.err(`cannot promote ${r.task_id}: ${r.error}`);
  }
  return failed === 0 ? 0 : 1;
};

const cmdArchive: Handler = async ({ ctx, store, args }) => {
  const ids = list(args, 'task_ids');
  const purge = list(args, 'purge_ids');
  if (ids.length > 0 && purge.length > 0) throw new CliExit(1, 'choose either task_ids to archive or --rm archived task_ids');
  if (ids.length === 0 && purge.length === 0) throw new CliExit(1, 'at least one task_id is required');
  let failed = 0;
  await store.update((board) => {
    for (const id of purge) {
      const task = getTask(board, id);
      if (!task || task.status !== 'archived') {
        failed += 1;
        ctx.err(`cannot delete ${id} (must already be archived)`);
        continue;
      }
      board.tasks = board.tasks.filter((t) => t.id !== id);
      board.links = board.links.filter((l) => l.parent_id !== id && l.child_id !== id);
      board.comments = board.comments.filter((c) => c.task_id !== id);
      board.events = board.events.filter((e) => e.task_id !== id);
      board.runs = board.runs.filter((r) => r.task_id !== id);
      ctx.out(`Deleted ${id}`);
    }
    for (const id of ids) {
      const task = getTask(board, id);
      if (!task || task.status === 'archived') {
        failed += 1;
        ctx.err(`cannot archive ${id}`);
        continue;
      }
      clearClaim(task);
      task.status = 'archived';
      appendEvent(board, id, 'archived', null, endRun(board, task, ctx.now(), { outcome: 'archived' }), ctx.now());
      ctx.out(`Archived ${id}`);
    }
  });
  return failed === 0 ? 0 : 1;
};

function printTick(ctx: Ctx, res: TickResult, dryRun: boolean): void {
  ctx.out(`Reclaimed:    ${res.reclaimed}`);
  ctx.out(`Crashed:      ${res.crashed.length}`);
  if (res.crashed.length) ctx.out(`  ${res.crashed.join(', ')}`);
  ctx.out(`Timed out:    ${res.timed_out.length}`);
  if (res.timed_out.length) ctx.out(`  ${res.timed_out.join(', ')}`);
  ctx.out(`Stale:        ${res.stale.length}`);
  if (res.stale.length) ctx.out(`  ${res.stale.join(', ')}`);
  ctx.out(`Auto-blocked: ${res.auto_blocked.length}`);
  if (res.auto_blocked.length) ctx.out(`  ${res.auto_blocked.join(', ')}`);
  ctx.out(`Promoted:     ${res.promoted}`);
  ctx.out(`Spawned:      ${res.spawned.length}`);
  for (const [id, who, ws] of res.spawned) ctx.out(`  - ${id}  ->  ${who}  @ ${ws || '-'}${dryRun ? ' (dry)' : ''}`);
  if (res.skipped_unassigned.length) ctx.out(`Skipped (unassigned): ${res.skipped_unassigned.join(', ')}`);
  if (res.skipped_nonspawnable.length) {
    ctx.out(`Skipped (non-spawnable assignee — terminal lane, OK): ${res.skipped_nonspawnable.join(', ')}`);
  }
}

function tickOptions(args: Args): TickOptions {
  return {
    dryRun: bool(args, 'dry_run'),
    max: num(args, 'max'),
    failureLimit: num(args, 'failure_limit') ?? DEFAULT_FAILURE_LIMIT,
  };
}

const cmdDispatch: Handler = async ({ ctx, bp, store, args }) => {
  const options = tickOptions(args);
  const res = await dispatchOnce(ctx, bp, store, options);
  if (bool(args, 'json')) {
    ctx.out(
      pyJson(
        {
          reclaimed: res.reclaimed,
          crashed: res.crashed,
          timed_out: res.timed_out,
          stale: res.stale,
          auto_blocked: res.auto_blocked,
          promoted: res.promoted,
          spawned: res.spawned.map(([task_id, assignee, workspace]) => ({ task_id, assignee, workspace })),
          skipped_unassigned: res.skipped_unassigned,
          skipped_nonspawnable: res.skipped_nonspawnable,
          skipped_per_profile_capped: res.skipped_per_profile_capped.map(([task_id, assignee, current]) => ({ task_id, assignee, current })),
          auto_assigned_default: res.auto_assigned_default,
        },
        true,
      ),
    );
    return 0;
  }
  printTick(ctx, res, options.dryRun);
  return 0;
};

const DAEMON_DEPRECATED =
  'hermes kanban daemon: DEPRECATED — the dispatcher now runs\ninside the gateway. To use kanban:\n\n' +
  '    hermes gateway start       # starts the gateway + embedded dispatcher\n\n' +
  'Ready tasks will be picked up on the next dispatcher tick\n(default: every 60 seconds). Configure via config.yaml:\n\n' +
  '    kanban:\n      dispatch_in_gateway: true      # default\n      dispatch_interval_seconds: 60\n' +
  '      failure_limit: 2              # consecutive non-success attempts before auto-block\n\n' +
  'Running both the gateway AND this standalone daemon will\nrace for claims. If you truly need the old standalone\n' +
  'daemon (no gateway available), rerun with --force.';

const cmdDaemon: Handler = async ({ ctx, bp, store, args }) => {
  if (!bool(args, 'force')) throw new CliExit(2, DAEMON_DEPRECATED);
  const interval = num(args, 'interval') ?? 60;
  const pidfile = str(args, 'pidfile');
  if (pidfile) {
    try {
      await mkdir(path.dirname(path.resolve(pidfile)), { recursive: true });
      await writeFile(pidfile, String(process.pid), 'utf8');
    } catch (error) {
      ctx.err(`warning: could not write pidfile ${pidfile}: ${(error as Error).message}`);
    }
  }
  ctx.err(
    `Kanban dispatcher running STANDALONE via --force (interval=${pyFloat(interval)}s, pid=${process.pid}). ` +
      'Ctrl-C to stop. NOTE: if a gateway is also running with dispatch_in_gateway=true (default), you have two ' +
      'dispatchers racing for claims.',
  );
  const signal = ctx.options.signal;
  const options = { ...tickOptions(args), dryRun: false };
  try {
    while (!signal?.aborted) {
      try {
        const res = await dispatchOnce(ctx, bp, store, options);
        const didWork = res.reclaimed || res.crashed.length || res.timed_out.length || res.promoted || res.spawned.length || res.auto_blocked.length;
        if (bool(args, 'verbose') && didWork) {
          ctx.out(
            `[${fmtTs(ctx.now())}] reclaimed=${res.reclaimed} crashed=${res.crashed.length} timed_out=${res.timed_out.length} ` +
              `stale=${res.stale.length} promoted=${res.promoted} spawned=${res.spawned.length} auto_blocked=${res.auto_blocked.length}`,
          );
        }
      } catch (error) {
        ctx.err(`kanban daemon: tick failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(Math.max(0.05, interval) * 1000, signal);
    }
  } finally {
    if (pidfile) await unlink(pidfile).catch(() => undefined);
  }
  ctx.out('(dispatcher stopped)');
  return 0;
};

const cmdStats: Handler = async ({ ctx, store, args }) => {
  const board = await store.read();
  const now = ctx.now();
  const byStatus: Record<string, number> = {};
  const byAssignee: Record<string, Record<string, number>> = {};
  let oldestReady: number | null = null;
  for (const t of board.tasks) {
    byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
    if (t.assignee) {
      const counts = (byAssignee[t.assignee] ??= {});
      counts[t.status] = (counts[t.status] ?? 0) + 1;
    }
    if (t.status === 'ready') oldestReady = Math.max(oldestReady ?? 0, now - t.created_at);
  }
  const stats = { by_status: byStatus, by_assignee: byAssignee, oldest_ready_age_seconds: oldestReady, now };
  if (bool(args, 'json')) {
    ctx.out(pyJson(stats, false));
    return 0;
  }
  ctx.out('By status:');
  for (const k of ['triage', 'todo', 'scheduled', 'ready', 'running', 'blocked', 'done']) ctx.out(`  ${k.padEnd(8)}  ${byStatus[k] ?? 0}`);
  const assignees = Object.keys(byAssignee).sort();
  if (assignees.length) {
    ctx.out('\nBy assignee:');
    for (const who of assignees) {
      const counts = byAssignee[who] ?? {};
      ctx.out(`  ${who.padEnd(20)}  ${Object.keys(counts).sort().map((k) => `${k}=${counts[k]}`).join(', ')}`);
    }
  }
  if (oldestReady !== null) ctx.out(`\nOldest ready task age: ${oldestReady}s`);
  return 0;
};

const cmdLog: Handler = async ({ ctx, bp, args }) => {
  const id = str(args, 'task_id') ?? '';
  let content: string;
  try {
    content = await readFile(path.join(bp.logsDir, `${id}.log`), 'utf8');
  } catch {
    throw new CliExit(1, `(no log for ${id} — task may not have spawned yet)`);
  }
  const tail = num(args, 'tail');
  if (tail !== null && tail >= 0) content = Buffer.from(content, 'utf8').subarray(-tail).toString('utf8');
  ctx.out(content.endsWith('\n') ? content.slice(0, -1) : content);
  return 0;
};

const cmdRuns: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const board = await store.read();
  const runs = filterRuns(board.runs.filter((r) => r.task_id === id), args, 'runs');
  if (bool(args, 'json')) {
    ctx.out(pyJson(runs.map(runToRunsDict), false));
    return 0;
  }
  if (runs.length === 0) {
    ctx.out(`(no runs yet for ${id})`);
    return 0;
  }
  ctx.out(`${'#'.padEnd(3)}  ${'OUTCOME'.padEnd(12)}  ${'PROFILE'.padEnd(16)}  ${'ELAPSED'.padStart(8)}  STARTED`);
  const now = ctx.now();
  runs.forEach((r, i) => {
    const elapsed = Math.max(0, (r.ended_at ?? now) - r.started_at);
    const el = elapsed < 60 ? `${elapsed}s` : elapsed < 3600 ? `${Math.floor(elapsed / 60)}m` : `${(elapsed / 3600).toFixed(1)}h`;
    const outcome = r.outcome || (!r.ended_at ? '(running)' : r.status);
    ctx.out(`${String(i + 1).padStart(3)}  ${outcome.padEnd(12)}  ${(r.profile || '-').padEnd(16)}  ${el.padStart(8)}  ${fmtTs(r.started_at)}`);
    if (r.summary) ctx.out(`     → ${(r.summary.split('\n')[0] ?? '').slice(0, 100)}`);
    if (r.error) ctx.out(`     ✖ ${r.error.slice(0, 100)}`);
  });
  return 0;
};

const cmdHeartbeat: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const note = str(args, 'note');
  const ok = await store.update((board) => {
    const task = getTask(board, id);
    if (!task || task.status !== 'running') return false;
    if (!runGuardOk(task, workerRunIdFor(ctx.env, id))) return false;
    const now = ctx.now();
    // heartbeat_worker only: last_heartbeat_at + an event; claim_expires is left alone ('The dispatcher').
    task.last_heartbeat_at = now;
    const run = currentRun(board, task);
    if (run) run.last_heartbeat_at = now;
    appendEvent(board, id, 'heartbeat', note ? { note } : null, run?.id ?? null, now);
    return true;
  });
  if (!ok) throw new CliExit(1, `cannot heartbeat ${id} (not running?)`);
  ctx.out(`Heartbeat recorded for ${id}`);
  return 0;
};

const cmdAssignees: Handler = async ({ ctx, bp, store, args }) => {
  const board = await store.read();
  const names = new Set([...profileNames(bp.root), ...board.tasks.map((t) => t.assignee).filter((a): a is string => !!a)]);
  const data = [...names].sort().map((name) => {
    const counts: Record<string, number> = {};
    for (const t of board.tasks) if (t.assignee === name && t.status !== 'archived') counts[t.status] = (counts[t.status] ?? 0) + 1;
    return { name, on_disk: profileExists(bp.root, name), counts };
  });
  if (bool(args, 'json')) {
    ctx.out(pyJson(data, false));
    return 0;
  }
  if (data.length === 0) {
    ctx.out('(no assignees — create a profile with `hermes -p <name> setup`)');
    return 0;
  }
  ctx.out(`${'NAME'.padEnd(20)}  ${'ON DISK'.padEnd(8)}  COUNTS`);
  for (const entry of data) {
    const counts = Object.keys(entry.counts).sort().map((k) => `${k}=${entry.counts[k]}`).join(', ') || '(idle)';
    ctx.out(`${entry.name.padEnd(20)}  ${(entry.on_disk ? 'yes' : 'no').padEnd(8)}  ${counts}`);
  }
  return 0;
};

const HANDLERS: Record<string, Handler> = {
  init: cmdInit,
  create: cmdCreate,
  list: cmdList,
  show: cmdShow,
  assign: cmdAssign,
  reclaim: cmdReclaim,
  reassign: cmdReassign,
  link: cmdLink,
  unlink: cmdUnlink,
  claim: cmdClaim,
  comment: cmdComment,
  complete: cmdComplete,
  edit: cmdEdit,
  block: cmdBlock,
  schedule: cmdSchedule,
  unblock: cmdUnblock,
  promote: cmdPromote,
  archive: cmdArchive,
  dispatch: cmdDispatch,
  daemon: cmdDaemon,
  stats: cmdStats,
  log: cmdLog,
  runs: cmdRuns,
  heartbeat: cmdHeartbeat,
  assignees: cmdAssignees,
};

/** The board file a given environment resolves to (for tests that inspect stand-in internals). */
export function boardFileFor(env: HermesEnv, board: string | null = null): string {
  return resolveBoardPaths(env, board).file;
}
