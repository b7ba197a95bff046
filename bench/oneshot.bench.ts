/**
 * One-shot commands at 100 sessions (issue 15, part 3): what a person or script pays for one `mam …` call, beside
 * a bare Node start measured in the same run.
 *
 *   node -e 0          the baseline: Node's own start-up, which every `mam …` call pays before its first line.
 *   status --json      `node dist/cli/main.js status --json`: registry, tmux, fact files, pane captures. Target ≤ 3×.
 *   status             the same as the human table (stdout is a pipe here, so no colour).
 *   job event          `mam job event ID --event progress`: handed to the job daemon (src/jobs/daemon.ts), which the
 *                      first call (a warm-up) started; it records the event in the job file and publishes it to the
 *                      embedded broker this script started, then answers.
 *   hook               `mam hook --agent claude` (the Node hook through the dispatcher) given a PostToolUse payload of
 *                      a session that works: its fact file rewritten under its lock.
 *
 * The fleet: 100 registered Claude sessions, 60 running `sleep` in tmux on a private `-L` server and 40 terminated;
 * 30 of the live ones have hook fact files in a temp status directory (10 need approval, 20 work), the other 30 are
 * read from their panes, as `mam status` does. Each iteration runs the four commands one after another, so noise
 * falls on all alike; medians and p90 over BENCH_ITERATIONS (default 30) after BENCH_WARMUP (3).
 *
 * BENCH_COMPARE=<another build's dist/cli/main.js> adds its `status --json` and `job event` to each iteration (before
 * and after a change, measured in the same run); BENCH_CPU_PROF=<dir> writes one `status --json` CPU profile there (after the runs, the registry's parse cached).
 *
 * Isolation: temp HOME, registry, status, broker and job directories, a private TMUX_TMPDIR; only the tmux server and
 * broker this script started are stopped, and the temp tree is removed, on success, failure and SIGINT/SIGTERM.
 * Exit status 0 when the run completed (a missed target prints MISS).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { applyHook } from '../src/facts/derive.js';
import { updateFacts } from '../src/facts/store.js';
import { createJob, type JobContext } from '../src/jobs/service.js';
import { ensureEmbeddedBroker } from '../src/mqtt/broker.js';
import { processId } from '../src/proc/tree.js';
import { MAM } from '../test/helpers/sandbox.js';
import { fleetEntry, startSleepSessions } from './fleet.js';
import { median, p90, timedRun } from './measure.js';

const SESSIONS = 100;
const ALIVE = 60;
const WITH_FACTS = 30;
const ITERATIONS = Math.max(10, Number(process.env['BENCH_ITERATIONS'] ?? 30));
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3);
const TARGET_RATIO = 3;

const execFileAsync = promisify(execFile);
const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-bench-oneshot-')));
const server = `mamb-oneshot-${process.pid}-${randomUUID().slice(0, 6)}`;
const env: NodeJS.ProcessEnv = {
  PATH: process.env['PATH'],
  HOME: path.join(root, 'home'),
  TMUX_TMPDIR: path.join(root, 'tmux'),
  XDG_CACHE_HOME: path.join(root, 'cache'),
  MAM_REGISTRY: path.join(root, 'registry', 'agent-sessions.yaml'),
  MAM_STATUS_DIR: path.join(root, 'status'),
  MAM_BROKER_DIR: path.join(root, 'broker'),
  MAM_LOG_LEVEL: 'warn',
  MAM_WATCH: '0',
  MAM_NOTIFY: 'off',
  LANG: 'C.UTF-8',
};
let serverStarted = false;
let brokerPid: number | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (serverStarted) await execFileAsync('tmux', ['-L', server, 'kill-server'], { env }).catch(() => undefined);
    // The job daemon the first `mam job event` started (src/jobs/daemon.ts), by the pid it recorded.
    const jobd = path.join(root, 'cache', 'mam', 'jobd');
    for (const name of await readdir(jobd).catch(() => [] as string[])) {
      const pid = name.endsWith('.pid') ? (JSON.parse(await readFile(path.join(jobd, name), 'utf8').catch(() => '{}')) as { pid?: number }).pid : undefined;
      try {
        if (pid !== undefined) process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (brokerPid !== undefined) {
      try {
        process.kill(brokerPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await rm(root, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

const run = (argv: readonly string[], input?: string): { ms: number; stdout: string } => timedRun(argv, env, input);

try {
  await mkdir(env['HOME']!, { recursive: true });
  await mkdir(env['TMUX_TMPDIR']!, { recursive: true, mode: 0o700 });
  await mkdir(path.dirname(env['MAM_REGISTRY']!), { recursive: true });

  // The registry: 60 running (alive in tmux), 40 terminated; 30 of the running have fact files.
  const me = processId(process.pid)!;
  const entries: Record<string, unknown>[] = [];
  const live: { name: string; cwd: string }[] = [];
  let hookPayload = '';
  for (let index = 0; index < SESSIONS; index += 1) {
    const workspace = path.join(root, 'ws', `proj${index}`);
    await mkdir(workspace, { recursive: true });
    const name = `proj${index}-creator-claude`;
    const alive = index < ALIVE;
    const id = randomUUID();
    entries.push(fleetEntry({ name, workspace, server, alive, id, createdAt: '2026-01-01T00:00:00Z' }));
    if (alive) live.push({ name, cwd: workspace });
    if (index === WITH_FACTS - 1) hookPayload = JSON.stringify({ session_id: id, cwd: workspace, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'npm test' }, tool_use_id: `t${index}` });
    if (index < WITH_FACTS) {
      const events = index < 10 ? ['PreToolUse', 'PermissionRequest'] : ['UserPromptSubmit'];
      for (const event of events) {
        await updateFacts(env['MAM_STATUS_DIR']!, id, (facts) => applyHook(facts, { session_id: id, cwd: workspace, hook_event_name: event, tool_name: 'Bash', tool_input: { command: 'npm test' }, tool_use_id: `t${index}` }, { now: Date.now(), agent: 'claude', mamSession: name, pid: me.pid, pidStart: me.start }), 5_000);
      }
    }
  }
  await writeFile(env['MAM_REGISTRY']!, stringify({ tmux_sessions: entries }, { lineWidth: 0 }));
  serverStarted = true;
  await startSleepSessions((args) => execFileAsync('tmux', ['-L', server, ...args], { env }), live);

  // A job for `mam job event`, and the broker it publishes to.
  await ensureEmbeddedBroker(env);
  brokerPid = (JSON.parse(await readFile(path.join(env['MAM_BROKER_DIR']!, 'broker.json'), 'utf8')) as { pid: number }).pid;
  const jobsDir = path.join(root, 'jobs');
  const jobs: JobContext = { dir: jobsDir, logsRoot: path.join(root, 'delegate_job_logs'), env, now: Date.now, lock: { timeoutMs: 10_000 }, transport: async () => undefined };
  const job = await createJob(jobs, { agent: 'bench', prompt: 'p', workdir: root, agentSession: null, timeoutS: 86_400, idleTimeoutS: 86_400, validate: null });

  const check = (report: string): void => {
    const parsed = JSON.parse(report) as { sessions: { tmux: string; activity: string | null }[] };
    const alive = parsed.sessions.filter((row) => row.tmux === 'alive').length;
    const approval = parsed.sessions.filter((row) => row.activity === 'needs_approval').length;
    if (parsed.sessions.length !== SESSIONS || alive !== ALIVE || approval !== 10) throw new Error(`status --json: ${parsed.sessions.length} sessions, ${alive} alive, ${approval} needing approval; expected ${SESSIONS}, ${ALIVE}, 10`);
  };
  const commands: Record<string, { argv: readonly string[]; input?: string; check: (stdout: string) => void }> = {
    'node -e 0': { argv: [process.execPath, '-e', '0'], check: () => undefined },
    'status --json': { argv: [process.execPath, MAM, 'status', '--json'], check },
    status: {
      argv: [process.execPath, MAM, 'status'],
      check: (stdout) => {
        if (stdout.split('\n').filter((line) => line.includes('-creator-claude')).length !== SESSIONS) throw new Error(`status printed ${JSON.stringify(stdout.slice(0, 300))}…`);
      },
    },
    'job event': { argv: [process.execPath, MAM, 'job', 'event', job.job_id, '--event', 'progress', '--detail', 'bench', '--registry-dir', jobsDir], check: () => undefined },
    hook: { argv: [process.execPath, MAM, 'hook', '--agent', 'claude'], input: hookPayload, check: () => undefined },
  };
  const compare = process.env['BENCH_COMPARE'];
  if (compare) {
    commands['status --json [compare]'] = { argv: [process.execPath, compare, 'status', '--json'], check };
    commands['job event [compare]'] = { argv: [process.execPath, compare, 'job', 'event', job.job_id, '--event', 'progress', '--detail', 'bench', '--registry-dir', jobsDir], check: () => undefined };
  }
  const times = Object.fromEntries(Object.keys(commands).map((name) => [name, [] as number[]]));
  for (let iteration = 0; iteration < WARMUP + ITERATIONS; iteration += 1) {
    for (const [name, command] of Object.entries(commands)) {
      const { ms, stdout } = run(command.argv, command.input);
      command.check(stdout);
      if (iteration >= WARMUP) times[name]!.push(ms);
    }
  }

  // After the runs, so the profile is of a call like those measured: the registry's parse already cached.
  const profiles = process.env['BENCH_CPU_PROF'];
  if (profiles) run([process.execPath, '--cpu-prof', `--cpu-prof-dir=${path.resolve(profiles)}`, MAM, 'status', '--json']);
  const base = median(times['node -e 0']!);
  const cpu = (/model name\s*:\s*(.*)/.exec(await readFile('/proc/cpuinfo', 'utf8').catch(() => ''))?.[1] ?? 'unknown CPU').trim();
  console.log(`one-shot commands, ${SESSIONS} sessions (${ALIVE} alive, ${WITH_FACTS} with fact files), ${ITERATIONS} iterations — ${new Date().toISOString()}, ${cpu}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}, Node ${process.version}`);
  console.log(`${compare ? `[compare] is ${compare}\n` : ''}command         median ms   p90 ms   ÷ node -e 0`);
  for (const [name, values] of Object.entries(times)) console.log(`${name.padEnd(14)}  ${median(values).toFixed(1).padStart(9)}  ${p90(values).toFixed(1).padStart(7)}   ${(median(values) / base).toFixed(2).padStart(6)}`);
  const ratio = median(times['status --json']!) / base;
  console.log(`${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'}: status --json at ${SESSIONS} sessions is ${ratio.toFixed(2)}× node -e 0, target ≤ ${TARGET_RATIO}×`);
} finally {
  await cleanup();
}
