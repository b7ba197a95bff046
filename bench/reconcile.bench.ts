/**
 * Reconcile pass benchmark (`npm run bench`).
 *
 * For N = 10, 100, 500 registered sessions (60 % alive in tmux running `sleep 100000`, 40 % with Claude
 * transcripts whose ids are recorded) it times, interleaved round-robin within each iteration so machine
 * noise hits every figure alike:
 *   pass   runPass(…) in-process, one ArtifactFs and registry reader reused across iterations as the loop does; steady state
 *   bare   one `tmux -L S list-panes -a -F <PANE_FORMAT>` via child_process.execFile — the baseline
 *   naive  per registry entry, sequentially: `has-session -t =name`, then `list-panes -t =name: -F …`
 *          when the session exists (the old per-session approach; skipping list-panes for dead entries
 *          flatters it)
 * and, for N = 100 only, `cold`: a fresh `node dist/cli/main.js reconcile --once --dry-run` process.
 * Medians (and p90) are printed with ratios against `bare` measured in the same run.
 *
 * Isolation: temp HOME, temp registry, private TMUX_TMPDIR, unique `-L` names, `-f /dev/null`, TMUX
 * and agent-dir overrides removed from the environment. Only servers this script started are killed, and
 * the temp tree is removed on success, failure and SIGINT/SIGTERM.
 *
 * Steady state: the registry is written already settled (dead entries are `status: terminated`,
 * transcript-backed entries carry their `claude_session_id_own`), then one unmeasured pass checks that
 * there is nothing to change (no drift, no problem, nothing written) before warm-up and measurement.
 * Large registries (issue 13): for N = 1,000 (the baseline), 10,000 and 100,000 ended sessions in the compact flow style
 * (`- {name: s1, agent: claude, …, status: terminated, …}`) on a tmux server that is not running, each figure a fresh
 * process running one `runPass` as `mam reconcile --once` does (the child prints its own pass time and
 * `process.resourceUsage().maxRSS`):
 *   steady   nothing to change: read, observe, reconcile
 *   write    one entry is `status: running` on that server, so class A flips it and the file is rewritten
 * Medians of BENCH_LARGE_RUNS (default 3) with ratios to N = 1,000 measured in the same run, and peak RSS over file size.
 * BENCH_LARGE_MAX (default 100000) caps N; BENCH_LARGE_ONLY=1 runs only this part.
 * Exit status: 0 when the run completed (targets missed are printed as MISS), 1 on any error.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ArtifactFs } from '../src/agents/fs.js';
import { agentKind, artifactRoots, type ArtifactQuery } from '../src/agents/index.js';
import { observe, type ObserveOptions } from '../src/reconcile/observe.js';
import { runPass, type PassOptions } from '../src/reconcile/pass.js';
import { reconcile } from '../src/reconcile/reconcile.js';
import { timestampMs, type RegistryEntry } from '../src/registry/schema.js';
import { CachedRegistryReader, readRegistry } from '../src/registry/store.js';
import { PANE_FORMAT, snapshotServer } from '../src/tmux/client.js';
import { writeClaudeTranscript } from '../test/helpers/claude-fixtures.js';
import { fleetEntry, startSleepSessions } from './fleet.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAM = path.join(REPO, 'dist/cli/main.js');

const SIZES = [10, 100, 500] as const;
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 5);
const ITERATIONS = Math.max(25, Number(process.env['BENCH_ITERATIONS'] ?? 30));
const COLD_RUNS = Number(process.env['BENCH_COLD_RUNS'] ?? 10);
const COLD_N = 100;
const TARGET_PASS_OVER_BARE = 2.0;
const TARGET_NAIVE_OVER_PASS = 20;
/** The issue states both targets for 100 sessions; the other sizes show the trend. */
const REQUIREMENT_N = 100;
const LARGE_SIZES = [1_000, 10_000, 100_000].filter((n) => n <= Number(process.env['BENCH_LARGE_MAX'] ?? 100_000));
const LARGE_RUNS = Math.max(1, Number(process.env['BENCH_LARGE_RUNS'] ?? 3));
/** Peak RSS of a pass over a large registry, at most this many times the file (issue 13). */
const TARGET_RSS_OVER_FILE = 10;


// ---------------------------------------------------------------------------------------------------
// Isolation and cleanup

const startedServers = new Set<string>();
let root: string | undefined;
let childEnv: NodeJS.ProcessEnv = {};
let cleaning: Promise<void> | undefined;

function execFileAsync(file: string, args: readonly string[], options: ExecFileOptions = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: childEnv, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', ...options }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
  });
}

async function tmux(server: string, args: readonly string[]): Promise<string> {
  const result = await execFileAsync('tmux', ['-L', server, ...args]);
  if (result.code !== 0) throw new Error(`tmux -L ${server} ${args.slice(0, 3).join(' ')} …: exit ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

async function killServer(server: string): Promise<void> {
  await execFileAsync('tmux', ['-L', server, 'kill-server']);
  startedServers.delete(server);
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...startedServers].map((server) => killServer(server).catch(() => undefined)));
    if (root) await rm(root, { recursive: true, force: true }).catch(() => undefined);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, cleaning up…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function setUpIsolation(): Promise<{ home: string; tmuxDir: string }> {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-bench-')));
  const home = path.join(root, 'home');
  const tmuxDir = path.join(root, 'tmux');
  await mkdir(home, { recursive: true });
  await mkdir(tmuxDir, { recursive: true, mode: 0o700 });
  // Everything mam code in this process reads: never the user's tmux, HOME or agent directories.
  for (const key of ['TMUX', 'TMUX_PANE', 'CLAUDE_CONFIG_DIR', 'CODEX_HOME', 'MAM_REGISTRY', 'MAM_TMUX_SERVER', 'MAM_TMUX_BIN']) delete process.env[key];
  process.env['HOME'] = home;
  process.env['TMUX_TMPDIR'] = tmuxDir;
  process.env['XDG_CACHE_HOME'] = path.join(root, 'cache');
  childEnv = {
    PATH: process.env['PATH'],
    HOME: home,
    TMUX_TMPDIR: tmuxDir,
    XDG_CACHE_HOME: path.join(root, 'cache'),
    MAM_LOG_LEVEL: 'warn',
    LANG: 'C.UTF-8',
  };
  return { home, tmuxDir };
}

// ---------------------------------------------------------------------------------------------------
// Fixture: N entries on a private server

interface Fixture {
  readonly n: number;
  readonly server: string;
  readonly registryFile: string;
  readonly names: readonly string[];
  readonly alive: number;
  readonly transcripts: number;
}

async function buildFixture(n: number, home: string): Promise<Fixture> {
  const base = path.join(root!, `n${n}`);
  const server = `mamb-${n}-${process.pid}-${randomUUID().slice(0, 6)}`;
  const registryFile = path.join(base, 'registry', 'agent-sessions.yaml');
  const aliveCount = Math.round(n * 0.6);
  const createdAt = '2026-01-01T00:00:00Z';
  const entries: Record<string, unknown>[] = [];
  const aliveSpecs: { name: string; cwd: string }[] = [];
  let transcripts = 0;

  for (let index = 0; index < n; index += 1) {
    const workspace = path.join(base, 'ws', `proj${index}`);
    await mkdir(workspace, { recursive: true });
    const name = `proj${index}-creator-claude`;
    const alive = index < aliveCount;
    // 2 of every 5 entries, among the alive and the dead alike, have a transcript whose id is recorded.
    const withTranscript = index % 5 < 2;
    let id: string | null = null;
    if (withTranscript) {
      id = randomUUID();
      await writeClaudeTranscript(home, workspace, id, { at: new Date(Date.parse(createdAt) + 60_000) });
      transcripts += 1;
    }
    entries.push(fleetEntry({ name, workspace, server, alive, id, createdAt }));
    if (alive) aliveSpecs.push({ name, cwd: workspace });
  }
  await mkdir(path.dirname(registryFile), { recursive: true });
  await writeFile(registryFile, stringify({ tmux_sessions: entries }, { lineWidth: 0 }));

  // Sessions: `sleep` panes, started in chains (bench/fleet.ts).
  startedServers.add(server);
  await startSleepSessions((args) => tmux(server, args), aliveSpecs);
  const listed = (await tmux(server, ['list-sessions', '-F', '#{session_name}'])).split('\n').filter(Boolean);
  if (listed.length !== aliveSpecs.length) throw new Error(`N=${n}: expected ${aliveSpecs.length} tmux sessions, found ${listed.length}`);
  return { n, server, registryFile, names: entries.map((entry) => entry['name'] as string), alive: aliveSpecs.length, transcripts };
}

// ---------------------------------------------------------------------------------------------------
// Measurements

function passOptions(fixture: Fixture, home: string, fs: ArtifactFs): PassOptions {
  return {
    registryFile: fixture.registryFile,
    dryRun: false,
    observe: { extraServers: [fixture.server], tmux: {}, artifacts: { roots: artifactRoots(process.env, home), fs } },
    now: Date.now,
    // As `mam reconcile`'s loop and `mam monitor` run it: the parse is reused while the file is unchanged.
    // The breakdown's readRegistry is a fresh parse, paid once per change (and by every --once run).
    reader: new CachedRegistryReader(),
  };
}

async function bare(fixture: Fixture): Promise<void> {
  const result = await execFileAsync('tmux', ['-L', fixture.server, 'list-panes', '-a', '-F', PANE_FORMAT]);
  if (result.code !== 0) throw new Error(`bare list-panes failed: ${result.stderr.trim()}`);
}

async function naive(fixture: Fixture): Promise<number> {
  let found = 0;
  for (const name of fixture.names) {
    const has = await execFileAsync('tmux', ['-L', fixture.server, 'has-session', '-t', `=${name}`]);
    if (has.code !== 0) continue;
    const panes = await execFileAsync('tmux', ['-L', fixture.server, 'list-panes', '-t', `=${name}:`, '-F', PANE_FORMAT]);
    if (panes.code !== 0) throw new Error(`naive list-panes ${name} failed: ${panes.stderr.trim()}`);
    found += 1;
  }
  return found;
}

/**
 * The artifact half of observe() without tmux: the same agent-kind calls entryArtifacts makes (root
 * exists, candidates for entries awaiting an id, locate for recorded ids), on the same cached ArtifactFs.
 */
async function artifactsAlone(entries: readonly RegistryEntry[], query: ArtifactQuery): Promise<void> {
  query.fs.newPass();
  await Promise.all(
    entries.map(async (entry) => {
      const kind = agentKind(entry.agent);
      if (!kind) return;
      const rootExists = await query.fs.exists(kind.artifactRoot(query.roots));
      const id = entry[kind.conversationIdField];
      const createdMs = timestampMs(entry.created_at);
      if (entry.status === 'running' && id == null && rootExists) {
        await kind.conversations(entry.workspace, query, createdMs === undefined ? undefined : createdMs - 2_000);
      }
      if (id && rootExists) await kind.locate(id, entry.workspace, query);
    }),
  );
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await fn();
  return [performance.now() - start, value];
}

interface Stats {
  readonly median: number;
  readonly p90: number;
}

function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => {
    const position = (sorted.length - 1) * q;
    const low = Math.floor(position);
    const high = Math.ceil(position);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
  };
  return { median: at(0.5), p90: at(0.9) };
}

interface SizeResult {
  readonly fixture: Fixture;
  readonly pass: Stats;
  readonly bare: Stats;
  readonly naive: Stats;
  readonly breakdown: Record<string, Stats>;
}

async function measureSize(fixture: Fixture, home: string): Promise<SizeResult> {
  const fs = new ArtifactFs();
  const options = passOptions(fixture, home, fs);
  const mtimeBefore = (await stat(fixture.registryFile)).mtimeMs;

  // Settle check (unmeasured): the fixture is already the steady state, so this pass must change nothing.
  const settle = await runPass(options);
  if (settle.written || settle.drifts.length > 0 || settle.problems.length > 0) {
    throw new Error(
      `N=${fixture.n}: fixture is not in steady state: written=${settle.written}, drifts=${JSON.stringify(settle.drifts.slice(0, 3))}, problems=${JSON.stringify(settle.problems.slice(0, 3))}`,
    );
  }
  const expectedAlive = await naive(fixture);
  if (expectedAlive !== fixture.alive) throw new Error(`N=${fixture.n}: naive found ${expectedAlive} sessions, expected ${fixture.alive}`);

  const samples = { pass: [] as number[], bare: [] as number[], naive: [] as number[] };
  // Where a pass spends its time, measured separately with the same building blocks (informational).
  const parts = { read: [] as number[], observe: [] as number[], reconcile: [] as number[], snapshot: [] as number[], artifacts: [] as number[] };
  const observeOptions: ObserveOptions = options.observe;

  for (let iteration = 0; iteration < WARMUP + ITERATIONS; iteration += 1) {
    const keep = iteration >= WARMUP;
    const [passMs, report] = await timed(() => runPass(options));
    if (report.written) throw new Error(`N=${fixture.n}: a steady-state pass wrote the registry`);
    if (report.drifts.length > 0 || report.problems.length > 0) throw new Error(`N=${fixture.n}: a steady-state pass reported drift or problems`);
    const [bareMs] = await timed(() => bare(fixture));
    const [naiveMs] = await timed(() => naive(fixture));
    if (keep) {
      samples.pass.push(passMs);
      samples.bare.push(bareMs);
      samples.naive.push(naiveMs);
    }

    const [readMs, registry] = await timed(() => readRegistry(fixture.registryFile));
    const [observeMs, observation] = await timed(() => observe(registry, observeOptions, Date.now));
    const [reconcileMs] = await timed(async () => reconcile(registry, observation, Date.now()));
    const [snapshotMs] = await timed(() => snapshotServer(fixture.server, {}));
    const [artifactsMs] = await timed(() => artifactsAlone(registry.entries, observeOptions.artifacts));
    if (keep) {
      parts.read.push(readMs);
      parts.observe.push(observeMs);
      parts.reconcile.push(reconcileMs);
      parts.snapshot.push(snapshotMs);
      parts.artifacts.push(artifactsMs);
    }
  }

  const mtimeAfter = (await stat(fixture.registryFile)).mtimeMs;
  if (mtimeAfter !== mtimeBefore) throw new Error(`N=${fixture.n}: registry mtime changed during steady-state passes`);

  return {
    fixture,
    pass: stats(samples.pass),
    bare: stats(samples.bare),
    naive: stats(samples.naive),
    breakdown: Object.fromEntries(Object.entries(parts).map(([key, values]) => [key, stats(values)])),
  };
}

async function measureCold(fixture: Fixture): Promise<{ cold: Stats; bare: Stats }> {
  const args = [MAM, 'reconcile', '--once', '--dry-run', '--registry', fixture.registryFile, '--tmux-server', fixture.server];
  const cold: number[] = [];
  const bareSamples: number[] = [];
  for (let run = 0; run < COLD_RUNS + 2; run += 1) {
    const [coldMs, result] = await timed(() => execFileAsync(process.execPath, args, { cwd: root }));
    if (result.code !== 0) throw new Error(`cold mam reconcile exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    if (!result.stdout.includes('no drift')) throw new Error(`cold mam reconcile saw drift: ${result.stdout.trim()}`);
    const [bareMs] = await timed(() => bare(fixture));
    if (run >= 2) {
      cold.push(coldMs);
      bareSamples.push(bareMs);
    }
  }
  return { cold: stats(cold), bare: stats(bareSamples) };
}

// ---------------------------------------------------------------------------------------------------
// Report

const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

async function machine(): Promise<string> {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  const tmuxVersion = (await execFileAsync('tmux', ['-V'])).stdout.trim() || 'tmux ?';
  return `${cpu}, ${os.cpus().length} cores (os.availableParallelism ${os.availableParallelism()}), ${os.type()} ${os.release()}, Node ${process.version}, ${tmuxVersion}`;
}

function printSize(result: SizeResult): void {
  const { fixture, pass, bare: b, naive: nv, breakdown } = result;
  const passOverBare = pass.median / b.median;
  const naiveOverPass = nv.median / pass.median;
  console.log(`\nN = ${fixture.n}  (${fixture.alive} alive in tmux, ${fixture.transcripts} with Claude transcripts, ${ITERATIONS} iterations after ${WARMUP} warm-up)`);
  console.log('  figure   median ms    p90 ms');
  console.log(`  pass     ${ms(pass.median).padStart(9)} ${ms(pass.p90).padStart(9)}`);
  console.log(`  bare     ${ms(b.median).padStart(9)} ${ms(b.p90).padStart(9)}`);
  console.log(`  naive    ${ms(nv.median).padStart(9)} ${ms(nv.p90).padStart(9)}`);
  const tag = fixture.n === REQUIREMENT_N ? 'the requirement' : 'informational at this N';
  console.log(`  pass/bare  = ${passOverBare.toFixed(2)}  (target ≤ ${TARGET_PASS_OVER_BARE.toFixed(1)}, ${tag})  ${verdict(passOverBare <= TARGET_PASS_OVER_BARE)}`);
  console.log(`  naive/pass = ${naiveOverPass.toFixed(1)}  (target ≥ ${TARGET_NAIVE_OVER_PASS}, ${tag})  ${verdict(naiveOverPass >= TARGET_NAIVE_OVER_PASS)}`);
  console.log(`  naive/bare = ${(nv.median / b.median).toFixed(1)}  (naive spawns ${fixture.n + fixture.alive} tmux clients, pass and bare one each)`);
  const part = (key: string): string => ms(breakdown[key]!.median);
  console.log(
    `  breakdown (medians, measured separately): readRegistry ${part('read')} | observe ${part('observe')}` +
      ` [tmux snapshotServer ${part('snapshot')}, artifacts alone ${part('artifacts')}] | reconcile ${part('reconcile')}`,
  );
}

async function main(): Promise<void> {
  const { home } = await setUpIsolation();
  console.log('mam reconcile benchmark');
  console.log(`date:    ${new Date().toISOString()}`);
  console.log(`machine: ${await machine()}`);
  console.log('steady state: registry written pre-settled (dead entries terminated, transcript ids recorded); one unmeasured pass must find nothing to change');

  // BENCH_LARGE_ONLY=1: only the large-registry figures (their baseline, N = 1,000, is measured in the same run).
  if (process.env['BENCH_LARGE_ONLY'] === '1') return measureLarge();
  const results: SizeResult[] = [];
  let cold: { cold: Stats; bare: Stats } | undefined;
  for (const n of SIZES) {
    const setupStart = performance.now();
    const fixture = await buildFixture(n, home);
    const setupMs = performance.now() - setupStart;
    try {
      const result = await measureSize(fixture, home);
      printSize(result);
      console.log(`  (setup ${ms(setupMs)} ms)`);
      results.push(result);
      if (n === COLD_N) cold = await measureCold(fixture);
    } finally {
      await killServer(fixture.server);
    }
  }

  if (cold) {
    console.log(`\ncold (N = ${COLD_N}): fresh \`node dist/cli/main.js reconcile --once --dry-run\`, ${COLD_RUNS} runs — includes Node start-up, informational`);
    console.log(`  cold median ${ms(cold.cold.median)} ms (p90 ${ms(cold.cold.p90)}), bare median ${ms(cold.bare.median)} ms in the same loop, cold/bare = ${(cold.cold.median / cold.bare.median).toFixed(1)}`);
  }

  const growth = results.map((result) => `${ms(result.pass.median)} ms @ ${result.fixture.n}`).join(' → ');
  const first = results[0]!;
  const last = results[results.length - 1]!;
  console.log(`\ngrowth: pass median ${growth}  (×${(last.pass.median / first.pass.median).toFixed(1)} for ×${last.fixture.n / first.fixture.n} sessions)`);
  const bareGrowth = results.map((result) => `${ms(result.bare.median)} ms @ ${result.fixture.n}`).join(' → ');
  console.log(`        bare median ${bareGrowth}`);
  const summary = results
    .map((result) => {
      const a = result.pass.median / result.bare.median <= TARGET_PASS_OVER_BARE;
      const b = result.naive.median / result.pass.median >= TARGET_NAIVE_OVER_PASS;
      const tag = result.fixture.n === REQUIREMENT_N ? ' (the requirement)' : ' (informational)';
      return `N=${result.fixture.n}${tag}: pass/bare ${verdict(a)}, naive/pass ${verdict(b)}`;
    })
    .join('; ');
  console.log(`targets: ${summary}`);
  if (LARGE_SIZES.length > 0) await measureLarge();
}


// ---------------------------------------------------------------------------------------------------
// Large registries (issue 13)

/** Runs one `reconcile --once` pass in a fresh process that reports its own wall time and peak RSS. */
const LARGE_CHILD = `
const started = performance.now();
const { buildPassOptions } = await import(process.env.MAM_DIST + '/reconcile/pass-options.js');
const { runPass } = await import(process.env.MAM_DIST + '/reconcile/pass.js');
const options = buildPassOptions({ registryFile: process.env.BENCH_REGISTRY, tmuxServers: [process.env.BENCH_SERVER], dryRun: false, env: process.env });
const passStart = performance.now();
const report = await runPass(options);
const end = performance.now();
console.log(JSON.stringify({ passMs: end - passStart, totalMs: end - started, maxRssKb: process.resourceUsage().maxRSS, written: report.written, drifts: report.drifts.length, problems: report.problems.length }));
`;

interface LargeRun {
  readonly passMs: number;
  readonly totalMs: number;
  readonly maxRssKb: number;
  readonly written: boolean;
  readonly drifts: number;
  readonly problems: number;
}

function largeRegistry(n: number, server: string, running: boolean): string {
  const lines = ['# generated by bench/reconcile.bench.ts', 'tmux_sessions:'];
  for (let index = 0; index < n; index += 1) {
    const status = running && index === n - 1 ? 'running' : 'terminated';
    lines.push(
      `  - {name: s${index}, agent: claude, workspace: /w/p${index}, status: ${status}, tmux_server: ${server}, pane: {pid: ${1000 + index}, cmd: claude, cwd: /w/p${index}}, ` +
        `start_command: claude --dangerously-skip-permissions, mcp_attachments: [], claude_session_id_own: null, delegate_job_id: null, last_visible_status: terminated, ` +
        `created_at: 2026-11-20T10:00:00Z, terminated_at: 2026-11-21T10:00:00Z, terminated_at_epoch: 1795255200, termination_mode: auto-detected}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function largeRun(file: string, server: string): Promise<LargeRun> {
  const result = await execFileAsync(process.execPath, ['--input-type=module', '-e', LARGE_CHILD], {
    env: { ...childEnv, MAM_DIST: path.join(REPO, 'dist'), BENCH_REGISTRY: file, BENCH_SERVER: server },
  });
  if (result.code !== 0) throw new Error(`large pass exited ${result.code}: ${result.stderr.trim().slice(-2000)}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as LargeRun;
}

async function measureLarge(): Promise<void> {
  console.log(`\nlarge registries: compact flow-style ended sessions, tmux server not running; fresh process per figure, median of ${LARGE_RUNS}`);
  console.log('  N         file MB   steady pass ms (x base)   steady peak RSS MB (x file)   write pass ms (x base)   write peak RSS MB (x file)');
  const server = `mamb-none-${process.pid}`;
  let base: { steady: number; write: number } | undefined;
  for (const n of LARGE_SIZES) {
    const directory = path.join(root!, `large${n}`);
    await mkdir(directory, { recursive: true });
    const file = path.join(directory, 'agent-sessions.yaml');
    const steadyText = largeRegistry(n, server, false);
    const fileMb = Buffer.byteLength(steadyText) / 1e6;
    const steady: LargeRun[] = [];
    const write: LargeRun[] = [];
    for (let run = 0; run < LARGE_RUNS; run += 1) {
      await writeFile(file, steadyText);
      const quiet = await largeRun(file, server);
      if (quiet.written || quiet.drifts > 0 || quiet.problems > 0) throw new Error(`N=${n}: a steady large pass changed something: ${JSON.stringify(quiet)}`);
      steady.push(quiet);
      await writeFile(file, largeRegistry(n, server, true));
      const flip = await largeRun(file, server);
      if (!flip.written || flip.drifts !== 1) throw new Error(`N=${n}: the write pass did not flip its one entry: ${JSON.stringify(flip)}`);
      write.push(flip);
    }
    const median = (runs: readonly LargeRun[], key: 'passMs' | 'maxRssKb'): number => stats(runs.map((run) => run[key])).median;
    const figures = { steady: median(steady, 'passMs'), write: median(write, 'passMs') };
    base ??= figures;
    const rss = (runs: readonly LargeRun[]): string => {
      const mb = median(runs, 'maxRssKb') / 1024;
      // Below ~10 MB Node's own ~100 MB (runtime + modules) dominates; the bound is about what grows with the file.
      return `${mb.toFixed(0)} (x${(mb / fileMb).toFixed(1)}${fileMb < 10 ? '' : ` ${verdict(mb / fileMb <= TARGET_RSS_OVER_FILE)}`})`;
    };
    console.log(
      `  ${String(n).padEnd(9)} ${fileMb.toFixed(1).padStart(7)}   ${ms(figures.steady).padStart(9)} (x${(figures.steady / base.steady).toFixed(1)})         ${rss(steady).padStart(20)}        ` +
        `${ms(figures.write).padStart(9)} (x${(figures.write / base.write).toFixed(1)})        ${rss(write).padStart(20)}`,
    );
    await rm(directory, { recursive: true, force: true });
  }
  console.log(`  (peak RSS includes Node itself and mam's modules, ~100 MB; target ≤ ${TARGET_RSS_OVER_FILE}x the file, judged from 10 MB up, where the file dominates)`);
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`bench: error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
