import type { HermesEnv, HermesOptions, HermesResult } from './api.js';

/**
 * One invocation: its environment, its clock, the output it collects, and the errors that end it with an exit code.
 * `runHermes` never exits the process and never prints, so all of that goes through here.
 */

/** Ends the command: `line` goes to stderr, `code` is the exit code. */
export class CliExit extends Error {
  constructor(
    readonly code: number,
    readonly line: string,
    readonly stdout?: string,
  ) {
    super(line);
  }
}

/** `ValueError`/`RuntimeError` in the real CLI: `kanban: <msg>` on stderr, exit 1. */
export function kanbanError(message: string, code = 1): CliExit {
  return new CliExit(code, `kanban: ${message}`);
}

export function standinError(message: string): CliExit {
  return new CliExit(2, `hermes stand-in: ${message}`);
}

export class Ctx {
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

export function clockSeconds(env: HermesEnv, now?: () => number): number {
  const raw = env['HERMES_STANDIN_NOW'];
  if (raw !== undefined && raw.trim() !== '') {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw standinError(`HERMES_STANDIN_NOW must be epoch seconds, got ${JSON.stringify(raw)}`);
    return value;
  }
  return (now?.() ?? Date.now()) / 1000;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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
