/**
 * Resolution latency of `mam watch` (issue 6, Benchmark, second half): from a transcript line written to
 * disk until the agent's fact file shows the resolved status — the path of Esc in a permission dialog or
 * while streaming, which no hook reports.
 *
 *   watch   the real `mam watch` daemon (fs.watch on the transcript + 1 s sweep). BENCH_WATCH_EVENTS
 *           interrupts (default 40) after 3 warm-ups, each after a fresh UserPromptSubmit set `working`.
 *   seed    the design mam's watcher replaced, in the same run: a poll every 1.5 s of the transcript's last 2 KB
 *           for `Request interrupted by user` (clawdboard's watcher; docs/status.md, 'Fact files'), with each event
 *           landing at a random phase of the interval. BENCH_SEED_EVENTS (default 8; 0 skips it).
 *   idle    the CPU of a watcher of 50 live sessions where nothing happens, over BENCH_WATCH_IDLE_MS (20 s),
 *           beside a bare `node` keeping one timer over the same window.
 *
 * The fact file is watched with fs.watch plus a 2 ms stat poll. Hooks are applied in-process with the
 * same code `mam hook` runs (their own cost is bench/hook.bench.ts's business). Isolation: a temp status
 * directory and transcript; only the watcher this script started is stopped.
 * Target: watch median under 200 ms. Exit status 0 when the run completed (a missed target prints MISS).
 */
import { spawn } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import { appendFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processId } from '../src/proc/tree.js';
import { applyHook } from '../src/facts/derive.js';
import { updateFacts } from '../src/facts/store.js';
import { waitFor } from '../src/util/wait.js';
import { MAM } from '../test/helpers/sandbox.js';
import { WatcherScratch } from './sandbox.js';

const EVENTS = Math.max(10, Number(process.env['BENCH_WATCH_EVENTS'] ?? 40));
const SEED_EVENTS = Number(process.env['BENCH_SEED_EVENTS'] ?? 8);
const WARMUP = 3;
const SEED_POLL_MS = 1_500;
const TARGET_MEDIAN_MS = 200;
const SID = 'bench-5f0c2a8e-1111-4c8e-9f00';
const IDLE_SESSIONS = 50;
const IDLE_WINDOW_MS = Number(process.env['BENCH_WATCH_IDLE_MS'] ?? 20_000);
const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const scratch = await WatcherScratch.create('mam-bench-watch-');
const root = scratch.root;
const dir = path.join(root, 'status');
const transcript = path.join(root, 'transcript.jsonl');

const me = processId(process.pid)!;
const line = (record: unknown): string => `${JSON.stringify(record)}\n`;
const interrupt = line({ type: 'user', message: { role: 'user', content: '[Request interrupted by user]' } });
const filler = line({ type: 'assistant', message: { content: [{ type: 'text', text: 'x'.repeat(300) }] } });

/** What `mam hook` does for a UserPromptSubmit from this process, in-process. */
async function promptSubmitted(): Promise<void> {
  const transcriptSize = (await stat(transcript)).size;
  await updateFacts(dir, SID, (facts) => applyHook(facts, { session_id: SID, transcript_path: transcript, hook_event_name: 'UserPromptSubmit' }, { now: Date.now(), agent: 'claude', mamSession: null, pid: me.pid, pidStart: me.start, transcriptSize }), 2_000);
}

async function mainStatus(): Promise<string | undefined> {
  const text = await readFile(path.join(dir, `${SID}.agent.main.json`), 'utf8').catch(() => '');
  return text ? (JSON.parse(text) as { status: string }).status : undefined;
}

/** Milliseconds from the interrupt line reaching disk until the fact file says waiting. */
async function measure(): Promise<number> {
  await promptSubmitted();
  await appendFile(transcript, filler);
  if ((await mainStatus()) !== 'working') throw new Error('the prompt did not make the agent working');
  let done = false;
  let stopWatching = (): void => undefined;
  const seen = new Promise<number>((resolve) => {
    const check = async (): Promise<void> => {
      if (!done && (await mainStatus()) === 'waiting') {
        done = true;
        resolve(performance.now());
      }
    };
    const fsw = watch(dir, () => void check());
    const poll = setInterval(() => void check(), 2);
    stopWatching = () => {
      fsw.close();
      clearInterval(poll);
    };
  });
  const handle = await open(transcript, 'a');
  const start = performance.now();
  await handle.write(interrupt);
  await handle.close();
  const end = await seen;
  stopWatching();
  return end - start;
}

/** The replaced design's watcher (clawdboard's): every 1.5 s, the last non-empty line of the transcript's last 2 KB. */
function seedWatcher(): () => void {
  const timer = setInterval(async () => {
    const text = await readFile(transcript, 'utf8');
    const last = text.slice(-2048).trim().split('\n').at(-1) ?? '';
    if (last.includes('Request interrupted by user') && (await mainStatus()) === 'working') {
      await updateFacts(dir, SID, (facts) => ({ facts: { ...facts, agents: { main: { ...facts.agents['main']!, status: 'waiting', tools: {} } } }, ended: false }), 2_000);
    }
  }, SEED_POLL_MS);
  return () => clearInterval(timer);
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

try {
  await mkdir(dir, { recursive: true });
  await writeFile(transcript, filler);
  await promptSubmitted();
  let watcher = (scratch.watcher = spawn(process.execPath, [MAM, 'watch', '--idle-exit', '600'], { env: { ...process.env, MAM_STATUS_DIR: dir, MAM_LOG_LEVEL: 'warn' }, stdio: 'ignore' }));
  if (!(await waitFor(async () => (await readFile(path.join(dir, 'watch.pid'), 'utf8').catch(() => '')) !== '', 10_000))) throw new Error('mam watch did not start');
  const ours: number[] = [];
  for (let index = 0; index < WARMUP + EVENTS; index++) {
    const latency = await measure();
    if (index >= WARMUP) ours.push(latency);
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
  }
  watcher.kill('SIGTERM');
  await new Promise((resolve) => watcher.once('exit', resolve));

  const seed: number[] = [];
  if (SEED_EVENTS > 0) {
    const stop = seedWatcher();
    for (let index = 0; index < SEED_EVENTS; index++) {
      seed.push(await measure());
      await new Promise((resolve) => setTimeout(resolve, Math.random() * SEED_POLL_MS));
    }
    stop();
  }

  // Idle cost: the same watcher with IDLE_SESSIONS live sessions and nothing happening, against a bare Node
  // process that only keeps a timer (the floor of any resident Node daemon) over the same window.
  for (let index = 0; index < IDLE_SESSIONS; index++) {
    const sid = `idle-${index}`;
    const file = path.join(root, `${sid}.jsonl`);
    await writeFile(file, filler);
    await updateFacts(dir, sid, (facts) => applyHook(facts, { session_id: sid, transcript_path: file, hook_event_name: 'SessionStart' }, { now: Date.now(), agent: 'claude', mamSession: null, pid: me.pid, pidStart: me.start, transcriptSize: filler.length }), 2_000);
  }
  watcher = scratch.watcher = spawn(process.execPath, [MAM, 'watch', '--idle-exit', '600'], { env: { ...process.env, MAM_STATUS_DIR: dir, MAM_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const floor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const before = [cpuTicks(watcher.pid!), cpuTicks(floor.pid!)];
  await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
  const after = [cpuTicks(watcher.pid!), cpuTicks(floor.pid!)];
  floor.kill('SIGTERM');
  const percent = (index: number): number => ((after[index]! - before[index]!) / TICKS_PER_SECOND / (IDLE_WINDOW_MS / 1000)) * 100;

  const median = percentile(ours, 50);
  process.stdout.write(`watch resolution latency, transcript line → fact file (${EVENTS} interrupts, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'})\n`);
  process.stdout.write(`  mam watch   median ${median.toFixed(1)} ms   p95 ${percentile(ours, 95).toFixed(1)} ms   max ${Math.max(...ours).toFixed(1)} ms\n`);
  if (seed.length > 0) {
    const seedMedian = percentile(seed, 50);
    process.stdout.write(`  seed poll   median ${seedMedian.toFixed(1)} ms   p95 ${percentile(seed, 95).toFixed(1)} ms   (${SEED_EVENTS} events, 1.5 s poll of a 2 KB tail)\n`);
    process.stdout.write(`  ratio       ${(median / seedMedian).toFixed(3)}× the seed's median (${(seedMedian / median).toFixed(0)}× faster)\n`);
  }
  process.stdout.write(`  target      median < ${TARGET_MEDIAN_MS} ms: ${median < TARGET_MEDIAN_MS ? 'ok' : 'MISS'}\n`);
  process.stdout.write(`idle mam watch, ${IDLE_SESSIONS} sessions, ${IDLE_WINDOW_MS / 1000} s: ${percent(0).toFixed(3)} % of a core; bare node with a timer: ${percent(1).toFixed(3)} % (target < 1 %: ${percent(0) < 1 ? 'ok' : 'MISS'})\n`);
} finally {
  await scratch.cleanup();
}
