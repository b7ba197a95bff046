/**
 * Errors that reach the user. Each one carries a one-line message that says what is wrong and,
 * where there is one, what to do; the CLI prints `mam: <message>` and exits with `exitCode`.
 */
export class MamError extends Error {
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** The command line itself is wrong (unknown flag, missing value). Exit 64 like sysexits' EX_USAGE. */
export class UsageError extends MamError {
  constructor(message: string) {
    super(message, { exitCode: 64 });
  }
}

/** The registry file cannot be used as it is; it is left untouched. */
export class RegistryError extends MamError {
  readonly file: string;
  readonly line: number | undefined;

  constructor(file: string, detail: string, options: { line?: number; column?: number; cause?: unknown } = {}) {
    const where = options.line === undefined ? file : `${file}:${options.line}${options.column === undefined ? '' : `:${options.column}`}`;
    super(`${where}: ${detail}`, { cause: options.cause });
    this.file = file;
    this.line = options.line;
  }
}

/** The registry lock could not be taken in time: someone else is holding it. */
export class LockTimeoutError extends MamError {
  constructor(lockFile: string, waitedMs: number) {
    super(
      `${lockFile}: still locked by another writer after ${waitedMs < 1000 ? `${waitedMs} ms` : `${Math.round(waitedMs / 1000)} s`}; ` +
        `find the holder with \`fuser ${lockFile}\` or retry later`,
      { exitCode: 75 },
    );
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
