import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The stand-in's public surface (re-exported by ../standin.ts): what a test passes in and gets back, and where the
 * executable lives.
 */

export type HermesEnv = Readonly<Record<string, string | undefined>>;

export interface HermesOptions {
  /** Clock in epoch milliseconds; `HERMES_STANDIN_NOW` (epoch seconds) in `env` wins over it. */
  now?: () => number;
  /** Stops `kanban daemon --force` (the CLI wires SIGTERM/SIGINT to it). */
  signal?: AbortSignal;
  /** Called with every chunk as it is produced (the CLI streams through it); the result still has it all. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /**
   * This process is the board's only user (a fake-clock test driving thousands of calls): board updates are
   * serialised in-process instead of each taking the flock through a spawned `flock` (~15 ms and a process per call).
   * Never set it when another process (a `hermes` executable, a dispatched worker) may touch the same board.
   */
  soleUser?: boolean;
}

export interface HermesResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export const HERMES_STANDIN_VERSION = '0.18.0';
/** argv[0] that makes `cli.ts` act as the per-worker supervisor (internal). */
export const SUPERVISE_FLAG = '--hermes-standin-supervise';

/** test/hermes/, this folder's parent: the executable and cli.ts live there. */
const HERE = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** The executable wrapper: point `hermes` at this in tests. */
export const HERMES_STANDIN_BIN = path.join(HERE, 'hermes');
export const CLI_PATH = path.join(HERE, 'cli.ts');
