/**
 * The tmux status-line segment at 100 sessions (issue 14, part 3): what tmux pays every `status-interval` for
 * `#(…)` in status-right, beside the floor of any Node command, measured in the same run.
 *
 *   node -e 0     the baseline: a bare Node start, which any `mam …` call pays before its first line.
 *   sh -c true    the floor of anything in `#(…)`: tmux runs it through `sh -c`.
 *   cat           `sh -c 'cat <status dir>/tmux-status'`, exactly what tmux runs for the README's line: the file the
 *                 watcher keeps.
 *   mam cached    `node dist/cli/main.js status --tmux` with a watcher running (reads its file).
 *   mam computed  the same with no watcher: the counts from the 100 sessions' fact files.
 *   in-process    countsFromFacts over the 100 sessions (what `mam computed` does after start-up), and the
 *                 watcher's cost per status change (SegmentCache: recount + atomic rewrite).
 *
 * The fixture: 100 sessions' fact files written with the code `mam hook` runs (10 need approval, 60 work, 30 wait),
 * their agent being this process. A real `mam watch --no-notify` keeps one copy's file. Iterations run the four
 * commands one after another, so noise falls on all alike; medians and p90 over BENCH_ITERATIONS (default 30) after
 * BENCH_WARMUP (5). Target: cat under 15 ms per call. Isolation: a temp HOME and status directories; only the watcher
 * this script started is stopped. Exit status 0 when the run completed (a missed target prints MISS).
 */
import { spawn } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyHook } from '../src/facts/derive.js';
import { readFacts, updateFacts } from '../src/facts/store.js';
import { processId } from '../src/proc/tree.js';
import { tmuxSegment } from '../src/status/segment.js';
import { countsFromFacts, SegmentCache, segmentPath } from '../src/status/segment-file.js';
import { waitFor } from '../src/util/wait.js';
import { MAM } from '../test/helpers/sandbox.js';
import { median, p90, timedRun } from './measure.js';
import { WatcherScratch } from './sandbox.js';

const SESSIONS = 100;
const ITERATIONS = Math.max(25, Number(process.env['BENCH_ITERATIONS'] ?? 30));
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 5);
const TARGET_MS = 15;

const scratch = await WatcherScratch.create('mam-bench-segment-');
const root = scratch.root;
const cached = path.join(root, 'cached');
const computed = path.join(root, 'computed');

const env = (dir: string): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], HOME: path.join(root, 'home'), MAM_STATUS_DIR: dir, MAM_NOTIFY: 'off', MAM_WATCH: '0', MAM_LOG_LEVEL: 'warn', LANG: 'C.UTF-8' });


try {
  // The fixture, through the hook's own code: PreToolUse + PermissionRequest, UserPromptSubmit, or SessionStart.
  const me = processId(process.pid)!;
  for (let index = 0; index < SESSIONS; index++) {
    const sid = `bench-${String(index).padStart(4, '0')}-4c8e-9f00`;
    const events = index < 10 ? ['PreToolUse', 'PermissionRequest'] : index < 70 ? ['UserPromptSubmit'] : ['SessionStart'];
    for (const event of events) {
      await updateFacts(cached, sid, (facts) => applyHook(facts, { session_id: sid, cwd: `/w/${index}`, hook_event_name: event, tool_name: 'Bash', tool_input: { command: 'npm test' }, tool_use_id: `t${index}` }, { now: Date.now(), agent: 'claude', mamSession: null, pid: me.pid, pidStart: me.start }), 5_000);
    }
  }
  cpSync(cached, computed, { recursive: true });
  // The fixture's counts in the segment's current style (src/status/segment.ts), so a restyle does not stop the bench.
  const expected = tmuxSegment({ needs_approval: 10, limited: 0, working: 60, waiting: 30 }, true);

  scratch.watcher = spawn(process.execPath, [MAM, 'watch', '--no-notify'], { env: env(cached), stdio: 'ignore' });
  const ready = await waitFor(() => (readFileSafe(segmentPath(cached)) ?? '').trim() === expected, 120_000);
  if (!ready) throw new Error(`the watcher did not write the segment: ${JSON.stringify(readFileSafe(segmentPath(cached)))}`);

  const commands = {
    'node -e 0': { argv: [process.execPath, '-e', '0'], env: env(cached), expect: '' },
    'sh -c true': { argv: ['sh', '-c', 'true'], env: env(cached), expect: '' },
    cat: { argv: ['sh', '-c', `cat '${segmentPath(cached)}' 2>/dev/null`], env: env(cached), expect: `${expected}\n` },
    'mam cached': { argv: [process.execPath, MAM, 'status', '--tmux'], env: env(cached), expect: `${expected}\n` },
    'mam computed': { argv: [process.execPath, MAM, 'status', '--tmux'], env: env(computed), expect: `${expected}\n` },
  } as const;
  const times = Object.fromEntries(Object.keys(commands).map((name) => [name, [] as number[]])) as Record<keyof typeof commands, number[]>;
  for (let iteration = 0; iteration < WARMUP + ITERATIONS; iteration++) {
    for (const [name, command] of Object.entries(commands) as [keyof typeof commands, (typeof commands)[keyof typeof commands]][]) {
      const { ms, stdout } = timedRun(command.argv, command.env);
      if (stdout !== command.expect) throw new Error(`${name} printed ${JSON.stringify(stdout)}, not ${JSON.stringify(command.expect)}`);
      if (iteration >= WARMUP) times[name].push(ms);
    }
  }

  // In-process: the computation alone, and the watcher's cost per change.
  const inProcess: number[] = [];
  for (let iteration = 0; iteration < WARMUP + ITERATIONS; iteration++) {
    const start = performance.now();
    const counts = await countsFromFacts(computed);
    if (iteration >= WARMUP) inProcess.push(performance.now() - start);
    if (counts.needs_approval !== 10 || counts.working !== 60 || counts.waiting !== 30) throw new Error(`countsFromFacts: ${JSON.stringify(counts)}`);
  }
  const cache = new SegmentCache({ dir: computed, warn: (message) => console.error(message) });
  const ids = Array.from({ length: SESSIONS }, (_, index) => `bench-${String(index).padStart(4, '0')}-4c8e-9f00`);
  const facts = await Promise.all(ids.map((id) => readFacts(computed, id)));
  ids.forEach((id, index) => cache.change(id, facts[index]));
  cache.ready(ids);
  const perChange: number[] = [];
  const waiting = { ...facts[0]!, agents: { main: { ...facts[0]!.agents['main']!, status: 'waiting' as const, tools: {} } } };
  for (let iteration = 0; iteration < WARMUP + ITERATIONS; iteration++) {
    const start = performance.now();
    // Each change flips session 0 between needing approval and waiting: the segment changes and is rewritten.
    cache.change(ids[0]!, iteration % 2 === 0 ? waiting : facts[0]);
    if (iteration >= WARMUP) perChange.push(performance.now() - start);
  }

  const base = median(times['node -e 0']);
  console.log(`status-line segment, ${SESSIONS} sessions, ${ITERATIONS} iterations (${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString()})`);
  console.log('figure          median ms   p90 ms   ÷ node -e 0');
  for (const [name, values] of Object.entries(times)) console.log(`${name.padEnd(14)}  ${median(values).toFixed(2).padStart(9)}  ${p90(values).toFixed(2).padStart(7)}   ${(median(values) / base).toFixed(2).padStart(6)}`);
  console.log(`in-process countsFromFacts: median ${median(inProcess).toFixed(3)} ms, p90 ${p90(inProcess).toFixed(3)} ms`);
  console.log(`watcher per status change (recount + atomic rewrite): median ${median(perChange).toFixed(3)} ms, p90 ${p90(perChange).toFixed(3)} ms`);
  const cat = median(times.cat);
  console.log(`${cat < TARGET_MS ? 'PASS' : 'MISS'}: the status-right line (cat of the watcher's file) ${cat.toFixed(2)} ms per call, target < ${TARGET_MS} ms`);
} finally {
  await scratch.cleanup();
}

function readFileSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
