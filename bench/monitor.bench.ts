/**
 * The monitor's own cost while idle: 50 registered sessions, all alive, nothing drifting. 10,000 passes
 * of the real worker loop (local board, real tmux, real registry and transcripts) run back to back with
 * virtual time, so heartbeats keep their real cadence while the run takes minutes, not 83 hours.
 *
 * CPU per pass counts this process and the tmux clients it spawns (RUSAGE_CHILDREN via /proc), and is
 * compared with the floor — one bare `tmux list-panes -a` per pass — measured in the same run.
 * Targets (issue 3): under 1 % of one core at the 30 s default; memory flat within 5 MB between pass
 * 1,000 and 10,000.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { ArtifactFs } from '../src/agents/fs.js';
import { artifactRoots } from '../src/agents/index.js';
import { LocalBoard } from '../src/kanban/local-board.js';
import { DEFAULT_SETTINGS } from '../src/kanban/settings.js';
import { runWorker } from '../src/kanban/worker.js';
import { runPass } from '../src/reconcile/pass.js';
import { PANE_FORMAT } from '../src/tmux/client.js';
import { CachedRegistryReader } from '../src/registry/store.js';
import { approvalWaits } from '../src/watch/approvals.js';
import { PaneSampler } from '../src/watch/pane-sampler.js';
import { capturePanes } from '../src/tmux/capture.js';
import { writeClaudeTranscript } from '../test/helpers/claude-fixtures.js';

const run = promisify(execFile);
const SESSIONS = 50;
const PASSES = Number(process.env['MAM_BENCH_PASSES'] ?? 10_000);
const CHECKPOINT = Math.min(1_000, Math.floor(PASSES / 10));
/** Clock ticks per second for /proc times; read once, so sampling spawns nothing. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime+stime of this process and of its waited-for children, in ms (/proc/self/stat fields 14–17). */
async function cpuMs(): Promise<{ self: number; children: number }> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  const [utime, stime, cutime, cstime] = [fields[11]!, fields[12]!, fields[13]!, fields[14]!];
  return { self: ((utime + stime) * 1000) / TICKS, children: ((cutime + cstime) * 1000) / TICKS };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mam-bench-monitor-'));
  const tmuxDir = path.join(root, 'tmux');
  const home = path.join(root, 'home');
  await mkdir(tmuxDir, { recursive: true, mode: 0o700 });
  process.env['TMUX_TMPDIR'] = tmuxDir;
  delete process.env['TMUX'];
  const env = { ...process.env, HOME: home, TMUX_TMPDIR: tmuxDir };
  const server = `mam-bench-mon-${process.pid}`;
  const cleanup = async (): Promise<void> => {
    await run('tmux', ['-L', server, 'kill-server'], { env }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    // 50 live sessions; half have a transcript and a recorded id (the steady state of a busy day).
    const commands: string[] = [];
    const entries: string[] = [];
    for (let index = 0; index < SESSIONS; index += 1) {
      const name = `w${index}-creator-claude`;
      const workspace = path.join(root, 'work', `w${index}`);
      await mkdir(workspace, { recursive: true });
      commands.push('new-session', '-d', '-s', name, '-c', workspace, 'sleep 1000000', ';');
      const id = index % 2 === 0 ? `0000000${index}`.slice(-8) + '-1111-4222-8333-444455556666' : null;
      if (id) {
        await writeClaudeTranscript(home, workspace, id);
        // Its hooks' fact file, as an agent between turns leaves it (read every pass for approval waits).
        const facts = path.join(home, '.cache', 'mam', 'status');
        await mkdir(facts, { recursive: true });
        await writeFile(path.join(facts, `${id}.agent.main.json`), JSON.stringify({ status: 'waiting', tools: {}, agent_type: null, needs_approval_since: null, updated_at: new Date().toISOString() }));
      }
      entries.push(`  - {name: ${name}, agent: claude, workspace: ${workspace}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: ${id ?? 'null'}}`);
    }
    await run('tmux', ['-L', server, ...commands.slice(0, -1)], { env });
    const registry = path.join(root, '.hermes', 'agent-sessions.yaml');
    await mkdir(path.dirname(registry), { recursive: true });
    await writeFile(registry, `tmux_sessions:\n${entries.join('\n')}\n`);

    const passOptions = {
      registryFile: registry,
      dryRun: false,
      observe: { extraServers: [server], tmux: {}, artifacts: { roots: artifactRoots(env, home), fs: new ArtifactFs() } },
      now: Date.now,
      reader: new CachedRegistryReader(),
    };
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    const board = new LocalBoard({ logFile: path.join(root, 'local.jsonl'), output: sink });
    const stop = new AbortController();
    let virtual = Date.now();
    const paneCalls = { tmux: 0, screens: 0 };
    const panes = new PaneSampler({
      now: () => virtual,
      capture: (tmuxServer, names) => {
        paneCalls.tmux += 1;
        paneCalls.screens += names.length;
        return capturePanes(tmuxServer, names, { env });
      },
    });
    let passes = 0;
    let written = 0;
    const samples = new Map<number, { rss: number; heap: number; cpu: { self: number; children: number }; at: number }>();
    const gc = (globalThis as { gc?: () => void }).gc;

    const sample = async (): Promise<void> => {
      gc?.();
      const memory = process.memoryUsage();
      samples.set(passes, { rss: memory.rss, heap: memory.heapUsed, cpu: await cpuMs(), at: performance.now() });
    };
    await sample();
    await runWorker({
      board,
      pass: async () => {
        const report = await runPass(passOptions);
        passes += 1;
        if (report.written) written += 1;
        if (passes % CHECKPOINT === 0) await sample();
        if (passes >= PASSES) stop.abort();
        return report;
      },
      clock: { now: () => virtual, sleep: async (ms) => void (virtual += ms) },
      settings: DEFAULT_SETTINGS,
      stateFile: path.join(root, 'state', 'bench.state'),
      log: pino({ level: 'silent' }),
      signal: stop.signal,
      // As `mam monitor` runs it: approval waits are read from the hooks' fact files every pass, and the 25
      // sessions with no hook facts from their panes, through the sampler (on the virtual clock, so its
      // back-off sees the 30 s between passes that the real monitor would).
      approvalWaits: () => approvalWaits(registry, passOptions.reader, env, panes),
    });

    // The floor: one bare list-panes per pass, same server, same run.
    const bare: number[] = [];
    const bareCpuStart = await cpuMs();
    const BARE = 500;
    for (let index = 0; index < BARE; index += 1) {
      const started = performance.now();
      await run('tmux', ['-L', server, 'list-panes', '-a', '-F', PANE_FORMAT], { env });
      bare.push(performance.now() - started);
    }
    const bareCpuEnd = await cpuMs();
    const bareCpuPerCall = (bareCpuEnd.self + bareCpuEnd.children - bareCpuStart.self - bareCpuStart.children) / BARE;

    const first = samples.get(CHECKPOINT)!;
    const last = samples.get(PASSES)!;
    const steadyPasses = PASSES - CHECKPOINT;
    const cpuPerPass = (last.cpu.self + last.cpu.children - first.cpu.self - first.cpu.children) / steadyPasses;
    const wallPerPass = (last.at - first.at) / steadyPasses;
    const corePercentAt30s = (cpuPerPass / 30_000) * 100;
    const rssDeltaMb = (last.rss - first.rss) / 2 ** 20;
    const heapDeltaMb = (last.heap - first.heap) / 2 ** 20;

    const cpuModel = /model name\s*:\s*(.+)/.exec(await readFile('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
    console.log(`monitor idle benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpuModel}, ${os.cpus().length} cores, Node ${process.version}, ${execFileSync('tmux', ['-V'], { encoding: 'utf8' }).trim()}`);
    console.log(`${SESSIONS} sessions alive, ${PASSES} passes, registry writes during the run: ${written} (expected 0)`);
    console.log(`pane fallback: ${paneCalls.screens} screens captured in ${paneCalls.tmux} tmux calls over ${PASSES} passes`);
    console.log(`CPU per pass (self + tmux children), passes ${CHECKPOINT}–${PASSES}: ${cpuPerPass.toFixed(2)} ms; wall ${wallPerPass.toFixed(2)} ms`);
    console.log(`  baseline, one bare list-panes -a: ${bareCpuPerCall.toFixed(2)} ms CPU, median wall ${median(bare).toFixed(2)} ms → pass/bare CPU ratio ${(cpuPerPass / bareCpuPerCall).toFixed(2)}×`);
    console.log(`  at the 30 s default: ${(cpuPerPass * 120 / 1000).toFixed(2)} s CPU per hour = ${corePercentAt30s.toFixed(3)} % of one core (target < 1 %): ${corePercentAt30s < 1 ? 'PASS' : 'MISS'}`);
    // One RSS figure at each end says little (the allocator returns pages late); every checkpoint is shown.
    const steady = [...samples].filter(([pass]) => pass >= CHECKPOINT).map(([, value]) => value);
    const rss = steady.map((value) => value.rss / 2 ** 20);
    const heap = steady.map((value) => value.heap / 2 ** 20);
    const spread = (values: number[]): number => Math.max(...values) - Math.min(...values);
    console.log(`memory after GC, every ${CHECKPOINT} passes from ${CHECKPOINT} to ${PASSES}:`);
    console.log(`  RSS MB:  ${rss.map((value) => value.toFixed(1)).join(' ')}  (spread ${spread(rss).toFixed(2)} MB)`);
    console.log(`  heap MB: ${heap.map((value) => value.toFixed(2)).join(' ')}  (spread ${spread(heap).toFixed(2)} MB)`);
    console.log(`  RSS pass ${CHECKPOINT} → ${PASSES}: Δ ${rssDeltaMb.toFixed(2)} MB, heap Δ ${heapDeltaMb.toFixed(2)} MB — target flat within 5 MB: ${Math.abs(rssDeltaMb) <= 5 ? 'PASS' : 'MISS'}${rssDeltaMb < -5 ? ' (RSS fell: pages returned to the OS, not growth)' : ''}${gc ? '' : ' (run with --expose-gc for exact heap figures)'}`);
  } finally {
    await cleanup();
  }
}

await main();
