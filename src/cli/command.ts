import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../util/errors.js';

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

/** Strict flag parsing: an unknown flag or a missing value is a UsageError that points at --help. */
export function parseFlags<T extends Options>(command: string, argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (error) {
    const dashed = dashedValue(error, argv);
    // parseArgs' own hint for this is on a line we drop; names starting with `-` are legal (reconcile registers them).
    if (dashed) {
      // `--session --force` is more likely a forgotten value than a session named "--force".
      const forgotten = isOption(dashed.value, options) ? `${dashed.flag} is missing its value (${dashed.value} is an option); or, if ${dashed.value} is the value, ` : `${dashed.flag} ${dashed.value}: a value that starts with "-" looks like an option; `;
      throw new UsageError(`${command}: ${forgotten}pass it as ${dashed.flag}=${dashed.value}`);
    }
    const message = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    throw new UsageError(`${command}: ${message}; see \`mam ${command} --help\``);
  }
}

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

export { writeLine } from '../util/write.js';

export { untilStopped } from '../util/stop.js';
