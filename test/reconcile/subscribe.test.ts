import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPassOptions } from '../../src/reconcile/pass-options.js';
import type { PassReport } from '../../src/reconcile/pass.js';
import type { EventSource } from '../../src/reconcile/sources.js';
import { runSubscribed } from '../../src/reconcile/subscribe.js';
import { CachedRegistryReader } from '../../src/registry/store.js';
import { Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/** runSubscribed with tmux push off: a generic event source, the resync, and shutdown. */
let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create();
  await box.writeRegistry('tmux_sessions: []\n');
});
afterEach(async () => {
  await box.dispose();
});

class FakeSource implements EventSource {
  available = false;
  starts = 0;
  stops = 0;
  emit: ((key: string) => void) | undefined;
  constructor(private failures: number) {}
  async start(onKey: (key: string) => void): Promise<void> {
    this.starts += 1;
    if (this.failures-- > 0) throw new Error('broker down');
    this.available = true;
    this.emit = onKey;
  }
  async stop(): Promise<void> {
    this.stops += 1;
    this.available = false;
  }
}

function options(box: Sandbox) {
  return buildPassOptions({ registryFile: box.registry, tmuxServers: [box.serverName('none')], dryRun: false, env: box.env() });
}

/** Only a hang reaches it; half the 60 s resync of the event tests, so their passes can only come from the events. */
const BOUND_MS = 30_000;

/** Counts pass starts (each pass reads the registry once, first thing), so a test can tell when none is pending. */
class CountingReader extends CachedRegistryReader {
  started = 0;
  override read(file: string) {
    this.started += 1;
    return super.read(file);
  }
}

describe('runSubscribed', () => {
  it('runs a pass per job event, retries a source that cannot start, and stops it on abort', async () => {
    const jobs = new FakeSource(1);
    const reader = new CountingReader();
    const reports: PassReport[] = [];
    const keys: string[] = [];
    // Pass starts counted when the last key was enqueued: a pass that starts later drains it.
    let startedAtLastKey = 0;
    const stop = new AbortController();
    const done = runSubscribed({
      passOptions: { ...options(box), reader },
      sources: { tmux: false, jobs, registry: false },
      resyncMs: 60_000,
      onReport: (report) => reports.push(report),
      onKey: (key) => {
        keys.push(key);
        startedAtLastKey = reader.started;
      },
      signal: stop.signal,
    });
    // Idle: every enqueued key has had a pass start after it, and every started pass has reported. No timing.
    const idle = () => reader.started > startedAtLastKey && reader.started === reports.length;
    await until(() => reports.length >= 1, 'the start-up pass', BOUND_MS);
    await until(() => jobs.available, 'the second start, after a backoff', BOUND_MS);
    expect(jobs.starts).toBe(2);
    await until(() => keys.includes('job:*') && idle(), 'the catch-up pass once the source is back', BOUND_MS);
    const settled = reports.length;
    jobs.emit!('job-42');
    jobs.emit!('job-42');
    jobs.emit!('job-43');
    await until(idle, 'the pass for the burst', BOUND_MS);
    // A late extra pass could only come from a split burst (the resync is a minute away), so this wait cannot flake.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reports.length).toBe(settled + 1); // one burst, one pass
    expect(keys).toEqual(expect.arrayContaining(['startup', 'job:job-42', 'job:job-43']));

    stop.abort();
    const summary = await done;
    expect(jobs.stops).toBe(1);
    expect(summary.passes).toBe(reports.length);
    jobs.emit!('job-44'); // after shutdown: ignored
    expect(reports.length).toBe(summary.passes);
  });

  it('resyncs every resyncMs without any event', async () => {
    const reports: PassReport[] = [];
    const stop = new AbortController();
    const started = Date.now();
    const done = runSubscribed({ passOptions: options(box), sources: { tmux: false, registry: false }, resyncMs: 150, onReport: (report) => reports.push(report), signal: stop.signal });
    await until(() => reports.length >= 4, 'the start-up pass and three resyncs', BOUND_MS);
    // 1 start-up pass + 3 resyncs at 150 ms ± 10 %.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 135 - 20);
    stop.abort();
    await done;
  });

  it('passes when someone else rewrites the registry, but not after its own writes', async () => {
    const reports: PassReport[] = [];
    const keys: string[] = [];
    const stop = new AbortController();
    const server = box.serverName('gone');
    const done = runSubscribed({
      passOptions: options(box),
      sources: { tmux: false },
      resyncMs: 60_000,
      onReport: (report) => reports.push(report),
      onKey: (key) => keys.push(key),
      signal: stop.signal,
    });
    await until(() => reports.length >= 1, 'the start-up pass', BOUND_MS);
    // An entry on a server that is not running: the pass this write triggers marks it terminated (a write).
    await box.writeRegistry(`tmux_sessions:\n  - {name: x-creator-claude, agent: claude, workspace: ${path.join(box.root, 'w')}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z}\n`);
    await until(() => reports.some((report) => report.written), 'the pass the write triggers', BOUND_MS);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const written = reports.findIndex((report) => report.written);
    expect(reports.slice(written + 1)).toEqual([]); // our own write did not trigger another pass
    expect(keys.filter((key) => key === 'registry').length).toBeGreaterThanOrEqual(1);
    stop.abort();
    await done;
  });
});
