import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { TmuxServer } from '../tmux/client.js';
import { fileVersion } from '../util/file-version.js';
import { WorkQueue } from './queue.js';
import { RetryingSource, TmuxWatcher, type EventSource, type SubscribeLog, type TmuxSourceSettings } from './sources.js';

/**
 * The one controller loop (docs/reconcile.md, 'Level-triggered passes'): many sources, one queue of keys, one
 * worker. Sources only enqueue a key — `tmux:<server>` for a control-mode notification, `job:<id>` for a job
 * event, `registry` when the registry file changes, `resync` on the periodic timer, `startup` once — into a
 * deduplicating queue (./queue.ts); each run of the queue hands the batch of keys to `reconcile`, one run at a
 * time. A key only says "look now"; it is never trusted as a fact.
 *
 * Used by `mam reconcile --subscribe` (./subscribe.ts: every run is a pass) and by `mam monitor` (every run wakes
 * its worker, whose step is the pass plus the board work: src/kanban/monitor.ts).
 *
 * Falling back to polling: the periodic resync (every `resyncMs`, ± `jitter`) runs whatever the sources do, so a
 * source that is down costs latency, never correctness. What each source does when its far end is away
 * (tmux servers not running or refusing control mode, a broker down) is ./sources.ts's business.
 */
export interface ControllerOptions {
  /** Runs for every batch of keys, one batch at a time; a throw retries the batch with backoff. */
  readonly reconcile: (keys: ReadonlySet<string>) => Promise<void>;
  /** The tmux servers to keep control clients on: asked at start, after every run and on `refreshServers`. */
  readonly servers?: () => Promise<readonly TmuxServer[]>;
  readonly sources?: {
    /** Control-mode clients on `servers()` (default on; `false` turns them off). */
    readonly tmux?: TmuxSourceSettings | false;
    readonly jobs?: EventSource;
    /** Retry cap for `jobs` when it cannot start (default 30 s). */
    readonly jobsRetryMaxMs?: number;
    /**
     * A file whose rewrites by someone else are news (the registry), and the key they enqueue. Writes made while
     * `reconcile` runs are judged after it, against the file as the run left it, so a run never answers its own
     * write with another run.
     */
    readonly file?: { readonly path: string; readonly key: string };
  };
  /** The full resync period (the polling fallback); undefined: none (the caller has its own timer). */
  readonly resyncMs?: number;
  /** ± fraction of resyncMs (default 0.1). */
  readonly jitter?: number;
  /** Burst coalescing window (default 5 ms). */
  readonly debounceMs?: number;
  /** At least this long between the starts of two runs (default 0). */
  readonly minGapMs?: number;
  /** Cap on the retry delay after a failed run (default 5 s). */
  readonly retryMaxMs?: number;
  /** Enqueue `startup` at once (default true). */
  readonly startup?: boolean;
  /** A run failed; it is retried after `retryInMs`. */
  readonly onError?: (error: unknown, retryInMs: number) => void;
  /** Every key as it is enqueued (diagnostics). */
  readonly onKey?: (key: string) => void;
  readonly log?: SubscribeLog;
}

export interface ControllerSummary {
  readonly passes: number;
  readonly failures: number;
  readonly keys: number;
}

export class Controller {
  private readonly queue: WorkQueue;
  private tmux: TmuxWatcher | undefined;
  private jobs: RetryingSource | undefined;
  private fileWatch: FSWatcher | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  // The file watch must not answer our own writes with another run (see `sources.file`).
  private afterOwnRun: string | undefined;
  private changedDuringRun = false;
  private running = false;
  private runsStarted = 0;

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue((keys) => this.run(keys), {
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
      ...(options.minGapMs === undefined ? {} : { minGapMs: options.minGapMs }),
      retryMaxMs: options.retryMaxMs ?? 5_000,
      onError: (error, _keys, retryInMs) => options.onError?.(error, retryInMs),
    });
  }

  /** Starts every source; resolves once the tmux clients have their first list of servers. */
  async start(): Promise<void> {
    const { options } = this;
    if (options.startup !== false) this.enqueue('startup');
    const tmuxSettings = options.sources?.tmux;
    if (tmuxSettings !== false && options.servers) {
      this.tmux = new TmuxWatcher((key) => this.enqueue(key), tmuxSettings ?? {}, options.log);
      await this.refreshServers();
    }
    if (options.sources?.jobs) {
      this.jobs = new RetryingSource(options.sources.jobs, (key) => this.enqueue(`job:${key}`), options.sources.jobsRetryMaxMs ?? 30_000, options.log);
      this.jobs.start();
    }
    const file = options.sources?.file;
    if (file !== undefined) this.fileWatch = watchFile(file.path, () => this.onFileChange(file));
    if (options.resyncMs !== undefined) this.scheduleResync(options.resyncMs);
  }

  /** Says "look now" (what every source does). */
  enqueue(key: string): void {
    if (this.stopped) return;
    this.options.onKey?.(key);
    this.queue.add(key);
  }

  /** Re-reads which tmux servers to keep clients on (the caller ran a pass of its own that may name new ones). */
  async refreshServers(): Promise<void> {
    if (!this.tmux || !this.options.servers || this.stopped) return;
    // servers() decides what an unreadable registry means (the callers fall back to the extra servers).
    this.tmux.setServers(await this.options.servers());
  }

  /** Stops the sources, drops waiting keys and waits for the run in flight. */
  async stop(): Promise<ControllerSummary> {
    this.stopped = true;
    clearTimeout(this.resyncTimer);
    this.fileWatch?.close();
    await Promise.all([this.tmux?.stop(), this.jobs?.stop()]);
    await this.queue.stop();
    const stats = this.queue.stats;
    return { passes: stats.runs, failures: stats.failures, keys: stats.added };
  }

  private async run(keys: ReadonlySet<string>): Promise<void> {
    this.running = true;
    this.runsStarted += 1;
    try {
      await this.options.reconcile(keys);
      await this.refreshServers();
    } finally {
      const file = this.options.sources?.file;
      if (file !== undefined) this.afterOwnRun = await fileVersion(file.path);
      this.running = false;
      if (this.changedDuringRun && file !== undefined) {
        this.changedDuringRun = false;
        this.onFileChange(file);
      }
    }
  }

  private onFileChange(file: { readonly path: string; readonly key: string }): void {
    if (this.running) {
      this.changedDuringRun = true;
      return;
    }
    const startedBefore = this.runsStarted;
    void fileVersion(file.path).then((key) => {
      // A run that began while the file was being looked at read the change itself (and its own write may be
      // what the key now shows): nothing more to do for this event.
      if (this.runsStarted !== startedBefore) return;
      if (key !== this.afterOwnRun) this.enqueue(file.key);
    });
  }

  private scheduleResync(resyncMs: number): void {
    const jitter = this.options.jitter ?? 0.1;
    const delay = resyncMs * (1 - jitter + 2 * jitter * Math.random());
    this.resyncTimer = setTimeout(() => {
      this.enqueue('resync');
      this.scheduleResync(resyncMs);
    }, delay);
  }
}

/** Runs a controller until `signal` aborts. */
export async function runController(options: ControllerOptions, signal: AbortSignal): Promise<ControllerSummary> {
  if (signal.aborted) return { passes: 0, failures: 0, keys: 0 };
  const controller = new Controller(options);
  await controller.start();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  return controller.stop();
}

/** Calls `onChange` whenever `file` is written or replaced; watches the directory (renames replace files). */
function watchFile(file: string, onChange: () => void): FSWatcher | undefined {
  try {
    const base = path.basename(file);
    const watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === base) onChange();
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined; // no directory yet: the resync covers it
  }
}

