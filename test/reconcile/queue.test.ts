import { describe, expect, it } from 'vitest';
import { WorkQueue, type QueueTimers } from '../../src/reconcile/queue.js';

/** A fake clock: timers fire only when the test advances time. */
class FakeTimers implements QueueTimers {
  now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, callback });
    return id;
  }

  currentTime(): number {
    return this.now;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get armed(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order and letting promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      const due = [...this.timers].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = Math.max(this.now, due[1].at);
      due[1].callback();
    }
    this.now = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let index = 0; index < 10; index += 1) await Promise.resolve();
}

/** A handler whose runs finish only when the test says so. */
function controllable() {
  const runs: Array<{ keys: string[]; at: number; finish(error?: Error): void }> = [];
  let clock: FakeTimers;
  const handler = (keys: ReadonlySet<string>): Promise<void> =>
    new Promise((resolve, reject) => {
      runs.push({ keys: [...keys].sort(), at: clock.now, finish: (error) => (error ? reject(error) : resolve()) });
    });
  return {
    runs,
    handler,
    bind(timers: FakeTimers) {
      clock = timers;
    },
  };
}

function setup(options: { debounceMs?: number; retryBaseMs?: number; retryMaxMs?: number; minGapMs?: number } = {}) {
  const timers = new FakeTimers();
  const work = controllable();
  work.bind(timers);
  const errors: number[] = [];
  const queue = new WorkQueue(work.handler, { debounceMs: 5, ...options, timers, onError: (_error, _keys, retryInMs) => errors.push(retryInMs) });
  return { timers, queue, runs: work.runs, errors };
}

describe('WorkQueue', () => {
  it('coalesces a burst within the debounce window into one run with every key once', async () => {
    const { timers, queue, runs } = setup();
    queue.add('tmux:a');
    await timers.advance(2);
    queue.add('tmux:a');
    queue.add('tmux:b');
    queue.add('tmux:a');
    await timers.advance(2);
    expect(runs).toHaveLength(0);
    await timers.advance(1);
    expect(runs).toEqual([expect.objectContaining({ keys: ['tmux:a', 'tmux:b'], at: 5 })]);
    expect(queue.stats).toMatchObject({ runs: 1, added: 4, deduplicated: 2 });
  });

  it('debounces from the first key: a steady trickle cannot postpone the run', async () => {
    const { timers, queue, runs } = setup({ debounceMs: 10 });
    for (let tick = 0; tick < 10; tick += 1) {
      queue.add(`k${tick}`);
      await timers.advance(3);
    }
    expect(runs[0]?.at).toBe(10);
  });

  it('minGapMs spaces the starts of runs; a lone key after a quiet spell waits only the debounce', async () => {
    const { timers, queue, runs } = setup({ debounceMs: 20, minGapMs: 1_000 });
    queue.add('a');
    await timers.advance(20);
    expect(runs.map((run) => run.at)).toEqual([20]);
    runs[0]!.finish();
    queue.add('b');
    await timers.advance(500);
    expect(runs).toHaveLength(1);
    await timers.advance(500);
    expect(runs.map((run) => run.at)).toEqual([20, 1_020]);
    runs[1]!.finish();
    await timers.advance(5_000);
    queue.add('c');
    await timers.advance(20);
    expect(runs.map((run) => run.at)).toEqual([20, 1_020, 6_040]);
  });

  it('runs one pass at a time; keys added during a run cause exactly one more', async () => {
    const { timers, queue, runs } = setup();
    queue.add('a');
    await timers.advance(5);
    expect(runs).toHaveLength(1);
    expect(queue.running).toBe(true);

    for (const key of ['b', 'c', 'b', 'a', 'c']) queue.add(key);
    await timers.advance(1_000);
    expect(runs).toHaveLength(1); // still one in flight, however long it takes
    expect(queue.pending).toEqual(new Set(['a', 'b', 'c']));

    runs[0]!.finish();
    await timers.advance(5);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.keys).toEqual(['a', 'b', 'c']);
    runs[1]!.finish();
    await timers.advance(1_000);
    expect(runs).toHaveLength(2);
    await queue.idle();
  });

  it('goes idle and starts again on the next key', async () => {
    const { timers, queue, runs } = setup();
    queue.add('a');
    await timers.advance(5);
    runs[0]!.finish();
    await timers.advance(0);
    let idle = false;
    void queue.idle().then(() => (idle = true));
    await timers.advance(0);
    expect(idle).toBe(true);
    expect(timers.armed).toBe(0);

    queue.add('b');
    await timers.advance(5);
    expect(runs.map((run) => run.keys)).toEqual([['a'], ['b']]);
  });

  it('retries a failed run with exponential backoff, capped, and resets after a success', async () => {
    const { timers, queue, runs, errors } = setup({ retryBaseMs: 100, retryMaxMs: 350 });
    queue.add('a');
    await timers.advance(5);
    runs[0]!.finish(new Error('registry mid-edit'));
    await timers.advance(0);
    expect(errors).toEqual([100]);
    expect(queue.waitingFor).toBe('retry');

    // A key arriving during the backoff waits for the retry rather than running now.
    queue.add('b');
    await timers.advance(99);
    expect(runs).toHaveLength(1);
    await timers.advance(1);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.keys).toEqual(['a', 'b']);

    runs[1]!.finish(new Error('still broken'));
    await timers.advance(200);
    runs[2]!.finish(new Error('still broken'));
    await timers.advance(350);
    expect(errors).toEqual([100, 200, 350]);
    runs[3]!.finish();
    await timers.advance(0);
    expect(queue.stats).toMatchObject({ runs: 4, failures: 3 });

    queue.add('c');
    await timers.advance(5);
    runs[4]!.finish(new Error('again'));
    await timers.advance(0);
    expect(errors.at(-1)).toBe(100); // the backoff started over
  });

  it('stop() waits for the run in flight, drops what waits, and ignores later keys', async () => {
    const { timers, queue, runs } = setup();
    queue.add('a');
    await timers.advance(5);
    queue.add('b');
    let stopped = false;
    const stopping = queue.stop().then(() => (stopped = true));
    await timers.advance(0);
    expect(stopped).toBe(false);
    runs[0]!.finish();
    await stopping;
    queue.add('c');
    await timers.advance(1_000);
    expect(runs).toHaveLength(1);
    expect(timers.armed).toBe(0);
  });
});
