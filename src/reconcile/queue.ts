/**
 * The deduplicating work queue behind `mam reconcile --subscribe` (client-go's workqueue semantics,
 * docs/reconcile.md, 'Level-triggered passes', cut down to what a level-triggered, whole-registry pass needs):
 *
 * - Keys only say "look now": adding a key that is already waiting does nothing (dedupe).
 * - One run in flight. Keys added while it runs are kept and cause exactly one more run afterwards,
 *   however many arrive.
 * - A short debounce from the first key of a burst coalesces bursts (`kill-session` sends two
 *   notifications back to back) without delaying a lone event by more than `debounceMs`.
 * - A run that throws puts its keys back and is retried after an exponential backoff (reset by the next
 *   success); keys arriving meanwhile wait for that retry instead of hammering a failing pass.
 *
 * Time goes through `QueueTimers`, so tests drive it with a fake clock.
 */
export interface QueueTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Epoch ms, for `minGapMs` (default Date.now). */
  currentTime?(): number;
}

export const realTimers: QueueTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  /** Coalescing window, from the first key of a burst (default 5 ms). */
  readonly debounceMs?: number;
  /** First retry delay after a failed run (default 100 ms); doubles per failure. */
  readonly retryBaseMs?: number;
  /** Cap on the retry delay (default 5 s). */
  readonly retryMaxMs?: number;
  /**
   * At least this long from the start of one run to the start of the next (default 0): a rate limit for callers
   * whose run is costly (the monitor's whole worker step), on top of the debounce.
   */
  readonly minGapMs?: number;
  readonly timers?: QueueTimers;
  /** Told about each failed run (the queue itself never throws). */
  readonly onError?: (error: unknown, keys: ReadonlySet<string>, retryInMs: number) => void;
}

export interface QueueStats {
  /** Runs started. */
  readonly runs: number;
  /** Runs that threw. */
  readonly failures: number;
  /** Keys added in total, and how many of them were already waiting (deduplicated). */
  readonly added: number;
  readonly deduplicated: number;
}

export class WorkQueue {
  private readonly dirty = new Set<string>();
  private readonly debounceMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly timers: QueueTimers;
  private timer: unknown;
  /** Why the timer is set: a debounce window, or a backoff after a failure. */
  private timerKind: 'debounce' | 'retry' | undefined;
  private inFlight: Promise<void> | undefined;
  private failuresInARow = 0;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private counters = { runs: 0, failures: 0, added: 0, deduplicated: 0 };

  constructor(
    private readonly handler: (keys: ReadonlySet<string>) => Promise<void>,
    private readonly options: WorkQueueOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5_000;
    this.timers = options.timers ?? realTimers;
  }

  get stats(): QueueStats {
    return { ...this.counters };
  }

  /** Keys waiting for the next run (not the one in flight). */
  get pending(): ReadonlySet<string> {
    return new Set(this.dirty);
  }

  get running(): boolean {
    return this.inFlight !== undefined;
  }

  add(key: string): void {
    if (this.stopped) return;
    this.counters.added += 1;
    if (this.dirty.has(key)) this.counters.deduplicated += 1;
    this.dirty.add(key);
    // In flight: the run's end schedules the next one. A timer set: the keys join its run.
    if (this.inFlight === undefined && this.timer === undefined) this.arm('debounce', this.debounceDelay());
  }

  /** Resolves when nothing is waiting and nothing runs (a retry pending counts as waiting). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops waiting keys and timers, and waits for the run in flight. Later adds are ignored. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.disarm();
    this.dirty.clear();
    await this.inFlight;
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.inFlight === undefined && this.timer === undefined && this.dirty.size === 0;
  }

  private arm(kind: 'debounce' | 'retry', ms: number): void {
    this.disarm();
    this.timerKind = kind;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerKind = undefined;
      this.runNow();
    }, ms);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerKind = undefined;
  }

  private runNow(): void {
    if (this.stopped || this.inFlight !== undefined || this.dirty.size === 0) {
      this.notifyIdle();
      return;
    }
    const keys = new Set(this.dirty);
    this.dirty.clear();
    this.counters.runs += 1;
    this.lastRunAt = this.now();
    this.inFlight = (async () => {
      let failure: { error: unknown } | undefined;
      try {
        await this.handler(keys);
      } catch (error) {
        failure = { error };
      }
      this.inFlight = undefined;
      if (this.stopped) return;
      if (failure) {
        this.counters.failures += 1;
        const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** this.failuresInARow);
        this.failuresInARow += 1;
        for (const key of keys) this.dirty.add(key);
        try {
          this.options.onError?.(failure.error, keys, delay);
        } catch {
          // A reporting callback must not break the queue.
        }
        this.arm('retry', delay);
        return;
      }
      this.failuresInARow = 0;
      if (this.dirty.size > 0) this.arm('debounce', this.debounceDelay());
      else this.notifyIdle();
    })();
  }

  private now(): number {
    return this.timers.currentTime ? this.timers.currentTime() : Date.now();
  }

  /** The debounce, stretched to keep `minGapMs` since the last run started. */
  private debounceDelay(): number {
    const gap = this.options.minGapMs ?? 0;
    return gap > 0 ? Math.max(this.debounceMs, this.lastRunAt + gap - this.now()) : this.debounceMs;
  }

  private notifyIdle(): void {
    if (!this.isIdle() && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** For diagnostics and tests: what the timer is waiting for, if anything. */
  get waitingFor(): 'debounce' | 'retry' | undefined {
    return this.timerKind;
  }
}
