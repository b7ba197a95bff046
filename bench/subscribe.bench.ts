/**
 * Drift latency of `mam reconcile --subscribe` (issue 5, item 7): from the start of `tmux kill-session`
 * of a registered session until the registry file shows it `status: terminated`.
 *
 *   subscribe   `mam reconcile --subscribe --emit-diff --interval 30` (a tmux control-mode client pushes
 *               %sessions-changed; one pass per burst). BENCH_SUBSCRIBE_KILLS kills (default 25) after 2
 *               warm-up kills, a random 50–250 ms apart.
 *   polling     `mam reconcile --emit-diff` at its default 30 s interval, BENCH_POLL_KILLS kills (default 4,
 *               ~15 s each on average; 0 skips it). Each kill lands at a random phase of the interval.
 *   seed        the 30 s poll of the monitor skill mam replaced (docs/development.md), analytically: uniform
 *               over the interval (median 15 s, p95 28.5 s).
 *
 * The registry holds 20 long-registered sessions on one private server (plus a keep-alive session), and
 * is watched with fs.watch plus a 2 ms stat poll; each change is parsed to check the entry.
 * Isolation: temp HOME, private TMUX_TMPDIR, unique `-L` names (test/helpers/sandbox.ts); only servers
 * this script started are killed, and everything is removed on exit and on SIGINT/SIGTERM.
 * Target: subscribe p95 under 250 ms. Exit status 0 when the run completed (a missed target prints MISS).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseRegistry } from '../src/registry/document.js';
import { MAM, Sandbox } from '../test/helpers/sandbox.js';

const SUBSCRIBE_KILLS = Math.max(20, Number(process.env['BENCH_SUBSCRIBE_KILLS'] ?? 25));
const WARMUP_KILLS = 2;
const POLL_KILLS = Number(process.env['BENCH_POLL_KILLS'] ?? 4);
const POLL_INTERVAL_S = 30;
const TARGET_P95_MS = 250;
const LONG_AGO = '2026-01-01T00:00:00Z';

let box: Sandbox | undefined;
const children = new Set<ChildProcessWithoutNullStreams>();
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) await stopChild(child);
    await box?.dispose();
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, cleaning up…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function stopChild(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

function entryYaml(name: string, workspace: string, server: string): string {
  return `  - name: ${name}\n    agent: claude\n    workspace: ${workspace}\n    status: running\n    tmux_server: ${server}\n    created_at: ${LONG_AGO}\n`;
}

/** Resolves with the time (performance.now) at which the registry first shows `name` terminated. */
function whenTerminated(registry: string, name: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let lastKey = '';
    let checking = false;
    let done = false;
    const check = async (): Promise<void> => {
      if (checking || done) return;
      checking = true;
      try {
        const stats = await stat(registry);
        const key = `${stats.ino}:${stats.mtimeMs}:${stats.size}`;
        if (key !== lastKey) {
          lastKey = key;
          const text = await readFile(registry, 'utf8');
          const entry = parseRegistry(registry, text).entries.find((candidate) => candidate.name === name);
          if (entry?.status === 'terminated') finish(performance.now());
        }
      } catch {
        // mid-rename: look again on the next tick
      } finally {
        checking = false;
      }
    };
    const watcher = watch(path.dirname(registry), () => void check());
    const poll = setInterval(() => void check(), 2);
    const timer = setTimeout(() => {
      finish(undefined);
    }, timeoutMs);
    function finish(at: number | undefined): void {
      if (done) return;
      done = true;
      watcher.close();
      clearInterval(poll);
      clearTimeout(timer);
      if (at === undefined) reject(new Error(`${name} not terminated within ${timeoutMs} ms`));
      else resolve(at);
    }
    void check();
  });
}

function startReconcile(args: readonly string[]): { child: ChildProcessWithoutNullStreams; passes: () => number; stderr: () => string } {
  const child = spawn(process.execPath, [MAM, 'reconcile', ...args], { env: box!.env() });
  children.add(child);
  let passes = 0;
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (passes += chunk.split('\n').length - 1));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { child, passes: () => passes, stderr: () => stderr };
}

async function setUp(server: string, count: number, tag: string): Promise<string[]> {
  const names = Array.from({ length: count }, (_, index) => `${tag}${index}-creator-claude`);
  await box!.startSession(server, 'keepalive', box!.root);
  for (const name of names) await box!.startSession(server, name, path.join(box!.root, 'work', name));
  // 20 long-registered sessions stay alive as the background a pass has to look at.
  const background = Array.from({ length: 20 }, (_, index) => `bg${index}-creator-claude`);
  for (const name of background) await box!.startSession(server, name, path.join(box!.root, 'work', name));
  await box!.writeRegistry(`tmux_sessions:\n${[...background, ...names].map((name) => entryYaml(name, path.join(box!.root, 'work', name), server)).join('')}`);
  return names;
}

async function measureKills(server: string, names: readonly string[], gap: () => number, timeoutMs: number): Promise<number[]> {
  const latencies: number[] = [];
  for (const name of names) {
    await sleep(gap());
    const waiting = whenTerminated(box!.registry, name, timeoutMs);
    const started = performance.now();
    await box!.killSession(server, name);
    latencies.push((await waiting) - started);
  }
  return latencies;
}

async function waitForPasses(running: { passes: () => number; stderr: () => string }, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (running.passes() < count) {
    if (Date.now() > deadline) throw new Error(`mam reconcile did not report a pass: ${running.stderr()}`);
    await sleep(10);
  }
}

function row(label: string, values: readonly number[]): string {
  const fmt = (value: number): string => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);
  return `| ${label} | ${values.length} | ${fmt(percentile(values, 0.5))} | ${fmt(percentile(values, 0.95))} | ${fmt(Math.min(...values))}–${fmt(Math.max(...values))} |`;
}

async function main(): Promise<void> {
  box = await Sandbox.create('mam-bench-sub-');
  console.log(`subscribe bench: ${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}, Node ${process.version}, ${new Date().toISOString()}`);

  // --subscribe
  const subServer = box.serverName('sub');
  const subNames = await setUp(subServer, SUBSCRIBE_KILLS + WARMUP_KILLS, 'k');
  const subscribed = startReconcile(['--subscribe', '--emit-diff', '--registry', box.registry, '--tmux-server', subServer, '--interval', String(POLL_INTERVAL_S)]);
  await waitForPasses(subscribed, 1);
  await sleep(300); // the control client attaches right after the first pass
  const all = await measureKills(subServer, subNames, () => 50 + Math.random() * 200, 5_000);
  const subscribe = all.slice(WARMUP_KILLS);
  const subscribeExit = await stopChild(subscribed.child);
  await box.tmux(subServer, 'kill-server').catch(() => undefined);

  // The polling loop at its default interval.
  let polling: number[] = [];
  if (POLL_KILLS > 0) {
    const pollServer = box.serverName('poll');
    const pollNames = await setUp(pollServer, POLL_KILLS, 'p');
    const polled = startReconcile(['--emit-diff', '--registry', box.registry, '--tmux-server', pollServer]);
    await waitForPasses(polled, 1);
    polling = await measureKills(pollServer, pollNames, () => Math.random() * POLL_INTERVAL_S * 1000, (POLL_INTERVAL_S + 10) * 1000);
    await stopChild(polled.child);
  }

  const seed = Array.from({ length: 1000 }, (_, index) => ((index + 0.5) / 1000) * POLL_INTERVAL_S * 1000);
  console.log('');
  console.log('| mode | kills | median | p95 | min–max |');
  console.log('|---|---|---|---|---|');
  console.log(row('`--subscribe` (push)', subscribe));
  if (polling.length > 0) console.log(row(`polling loop, default --interval ${POLL_INTERVAL_S}`, polling));
  console.log(`| seed's ${POLL_INTERVAL_S} s poll (uniform phase, analytic) | — | ${(percentile(seed, 0.5) / 1000).toFixed(2)} s | ${(percentile(seed, 0.95) / 1000).toFixed(2)} s | 0–${POLL_INTERVAL_S} s |`);
  console.log('');
  const p95 = percentile(subscribe, 0.95);
  console.log(`subscribe p95 ${p95.toFixed(1)} ms vs target < ${TARGET_P95_MS} ms: ${p95 < TARGET_P95_MS ? 'PASS' : 'MISS'}`);
  console.log(`median speed-up over the seed's poll: ${(percentile(seed, 0.5) / percentile(subscribe, 0.5)).toFixed(0)}×`);
  console.log(`subscribe samples (ms): ${subscribe.map((value) => value.toFixed(1)).join(' ')}`);
  if (subscribeExit !== 0) throw new Error(`mam reconcile --subscribe exited ${subscribeExit} on SIGTERM`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
