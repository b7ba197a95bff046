import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../util/errors.js';
import { progressLine } from '../util/progress.js';

/** What every subcommand gets: its arguments and the process surroundings, passed in for tests. */
export interface CliContext {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface Command {
  /** The full `--help` text. */
  readonly help: string;
  /** Each subcommand's own `--help` page (`mam job submit --help`), by subcommand name. */
  readonly subcommands?: Readonly<Record<string, string>>;
  /** Returns the exit code. Throws MamError for a one-line failure. */
  run(context: CliContext): Promise<number>;
}

/**
 * The context of this process. stdout/stderr are getters: process.stdout/stderr are created on first use, and
 * creating them loads the tty, net and stream modules — milliseconds a hook (which prints nothing) should not pay
 * on every agent event. Hand it on with withArgv, not a spread, which would read them.
 */
export function processContext(argv: readonly string[]): CliContext {
  return lazyStreams(argv, process.env, process.cwd(), () => process);
}

/** `context` with other arguments; its streams are read only when used. */
export function withArgv(context: CliContext, argv: readonly string[]): CliContext {
  return lazyStreams(argv, context.env, context.cwd, () => context);
}

function lazyStreams(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string, streams: () => Pick<CliContext, 'stdout' | 'stderr'>): CliContext {
  return {
    argv,
    env,
    cwd,
    get stdout() {
      return streams().stdout;
    },
    get stderr() {
      return streams().stderr;
    },
  };
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing: an unknown flag or a missing value is a UsageError that points at --help. With `positionals`,
 * the command also takes words that are not flags (`mam stop NAME`); one that starts with `-` goes after `--`.
 */
export function parseFlags<T extends Options>(command: string, argv: readonly string[], options: T, config: { readonly positionals?: boolean } = {}) {
  try {
    const parsed = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
    if (!config.positionals && parsed.positionals.length > 0) {
      throw new UsageError(`${command}: unexpected argument ${JSON.stringify(parsed.positionals[0])} (this command takes only options); see \`mam ${command} --help\``);
    }
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const dashed = dashedValue(error, argv);
    // parseArgs' own hint for this is on a line we drop; names starting with `-` are legal (reconcile registers them).
    if (dashed) {
      // `--session --force` is more likely a forgotten value than a session named "--force".
      const forgotten = isOption(dashed.value, options) ? `${dashed.flag} is missing its value (${dashed.value} is an option); or, if ${dashed.value} is the value, ` : `${dashed.flag} ${dashed.value}: a value that starts with "-" looks like an option; `;
      throw new UsageError(`${command}: ${forgotten}pass it as ${dashed.flag}=${dashed.value}`);
    }
    const unknown = unknownOption(error);
    if (unknown !== undefined) {
      const asName = config.positionals ? `; a name that starts with "-" goes after --: \`mam ${command} -- ${unknown}\`` : '';
      throw new UsageError(`${command}: Unknown option '${unknown}'${asName}; see \`mam ${command} --help\``);
    }
    const message = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    throw new UsageError(`${command}: ${message}; see \`mam ${command} --help\``);
  }
}

/** The option parseArgs did not know (its own message goes on to advise on positionals, which not every command takes). */
function unknownOption(error: unknown): string | undefined {
  if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined;
  return /^Unknown option '([^']+)'/.exec(error.message)?.[1];
}

/**
 * The one thing a command acts on, given as a word (`mam stop NAME`) or as its flag (`--session NAME`), the way
 * people type it either way. Both, naming different things, or more than one word, is a usage error; so is neither.
 */
export function subjectArg(command: string, subject: { readonly flag: string; readonly label: string }, flagValue: string | undefined, positionals: readonly string[]): string {
  const see = `see \`mam ${command} --help\``;
  if (positionals.length > 1) throw new UsageError(`${command}: one ${subject.label}, not ${positionals.length} (${positionals.map((word) => JSON.stringify(word)).join(', ')}); ${see}`);
  const [word] = positionals;
  if (word !== undefined && flagValue !== undefined && word !== flagValue) {
    throw new UsageError(`${command}: ${subject.label} given twice, as ${JSON.stringify(word)} and as --${subject.flag} ${JSON.stringify(flagValue)}; give it once`);
  }
  const value = word ?? flagValue;
  if (value === undefined || value === '') throw new UsageError(`${command}: ${subject.label} is required: \`mam ${command} ${subject.label}\` (or --${subject.flag} ${subject.label}); ${see}`);
  return value;
}

/** A session name: `mam stop NAME` or `mam stop --session NAME`. */
export const SESSION = { flag: 'session', label: 'NAME' } as const;

/** A job, named as a word (`mam job status ID`) or with --job ID. */
export const JOB = { flag: 'job', label: 'ID' } as const;

/** Where `mam job` subcommands find jobs: beside the session registry (--registry), or in --registry-dir. */
export const JOB_WHERE = { registry: { type: 'string' }, 'registry-dir': { type: 'string' } } as const;

function isOption(arg: string, options: Options): boolean {
  const name = arg.split('=', 1)[0]!;
  if (name === '--help' || name === '-h') return true;
  return Object.entries(options).some(([long, option]) => name === `--${long}` || (option.short !== undefined && name === `-${option.short}`));
}

/** The flag and value parseArgs refused as "ambiguous": a string flag followed by an argument starting with `-`. */
function dashedValue(error: unknown, argv: readonly string[]): { flag: string; value: string } | undefined {
  if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return undefined;
  const given = /^Option '([^']+)' argument is ambiguous/.exec(error.message)?.[1];
  if (!given) return undefined;
  const at = argv.findIndex((arg, index) => arg === given && argv[index + 1]?.startsWith('-'));
  if (at === -1) return undefined;
  // A short flag (-s) is suggested by its long name, which parseArgs' own hint spells out.
  const flag = /use '(--[^=']+)=/.exec(error.message)?.[1] ?? given;
  return { flag, value: argv[at + 1]! };
}

export function positiveSeconds(command: string, flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`${command}: --${flag} takes a positive number of seconds, not ${JSON.stringify(value)}`);
  return seconds;
}

/**
 * A command's live progress line (stderr, on a terminal only: src/util/progress.ts) as the callbacks the long
 * operations take — `say` for lines, `progress` for the stage of a wait — plus `print` for a stdout line written
 * while it shows, and `done`, which removes the line whatever happened: call it in a `finally`.
 */
export interface LiveProgress {
  say(line: string): void;
  progress(stage: string | undefined): void;
  print(line: string): void;
  done(): void;
}

export function liveProgress(context: CliContext): LiveProgress {
  const line = progressLine(context.stderr, context.env);
  return {
    say: (text) => line.say(text),
    progress: (stage) => (stage === undefined ? line.clear() : line.stage(stage)),
    print: (text) => line.print(context.stdout, text),
    done: () => line.clear(),
  };
}

export { writeLine } from '../util/write.js';

export { untilStopped } from '../util/stop.js';
