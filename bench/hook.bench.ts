/**
 * Hook wall time per event, as an agent pays it: spawn what `mam hooks install` registers (`mam-hook`, i.e.
 * `node dist/cli/hook.cjs --agent claude`; also timed: the CLI form `node dist/cli/main.js hook`), write one real
 * payload (shaped as docs/agents.md, 'Claude hooks', gives them) on stdin, wait for the exit. One session goes through
 * SessionStart → UserPromptSubmit → PreToolUse → PermissionRequest → PostToolUse → Stop per round, in a temp HOME
 * and MAM_STATUS_DIR, with a transcript file on disk (the hook stats it) and a live watcher recorded in watch.pid
 * (this process), so the hook takes its steady-state path: check the watcher, spawn none.
 * Baseline, measured in the same run and interleaved with the hooks so both see the same machine: `node -e 0`.
 * Target (issue 6): hook median at most 1.5× the baseline — start-up is the cost.
 * Also: SessionStart in a session mam started (MAM_SESSION + MAM_REGISTRY), which updates the registry.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { processId } from '../src/proc/tree.js';

const run = promisify(execFile);
const ROUNDS = Number(process.env['BENCH_HOOK_ROUNDS'] ?? 30);
const WARMUP = 3;
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli/main.js');
/** What `mam hooks install` registers: the bundled `mam-hook` entry. */
const HOOK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli/hook.cjs');

const percentile = (values: readonly number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

/** Milliseconds from spawn to exit of `argv`, with `input` written to its stdin. */
function timed(argv: readonly string[], input: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, argv, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${argv.join(' ')} exited ${code}`))));
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mam-bench-hook-'));
  try {
    const home = path.join(root, 'home');
    const statusDir = path.join(root, 'status');
    const workspace = path.join(home, 'x');
    const transcriptDir = path.join(home, '.claude', 'projects', '-' + workspace.slice(1).replace(/[^A-Za-z0-9]/g, '-'));
    await mkdir(statusDir, { recursive: true });
    await mkdir(transcriptDir, { recursive: true });
    await mkdir(workspace, { recursive: true });
    // The steady state of a real session: a watcher is alive, so the hook only checks it.
    const self = processId(process.pid);
    if (!self) throw new Error('cannot read this process from /proc');
    await writeFile(path.join(statusDir, 'watch.pid'), `${self.pid} ${self.start}\n`);
    const registry = path.join(root, 'registry', 'agent-sessions.yaml');
    await mkdir(path.dirname(registry), { recursive: true });
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: home, MAM_STATUS_DIR: statusDir, LANG: 'C.UTF-8' };

    const events = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PermissionRequest', 'PostToolUse', 'Stop'] as const;
    const times: Record<string, number[]> = Object.fromEntries([...events, 'SessionStart (mam session)', 'mam hook (the CLI command)', 'baseline'].map((name) => [name, []]));
    const bash = { tool_name: 'Bash', tool_input: { command: 'npm test', description: 'Run unit tests' } };

    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      const sessionId = `7d2c9f4e-3b1a-4c8e-9f00-${String(round).padStart(12, '0')}`;
      const transcript = path.join(transcriptDir, `${sessionId}.jsonl`);
      await writeFile(transcript, `{"type":"user","sessionId":"${sessionId}","message":{"role":"user","content":"run the tests"}}\n`);
      const common = { session_id: sessionId, transcript_path: transcript, cwd: workspace, permission_mode: 'default' };
      const payloads: Record<(typeof events)[number], object> = {
        SessionStart: { ...common, hook_event_name: 'SessionStart', source: 'startup', model: 'claude-sonnet-4-6' },
        UserPromptSubmit: { ...common, hook_event_name: 'UserPromptSubmit', prompt: 'run the tests' },
        PreToolUse: { ...common, hook_event_name: 'PreToolUse', ...bash, tool_use_id: `toolu_${round}` },
        PermissionRequest: { ...common, hook_event_name: 'PermissionRequest', ...bash, permission_suggestions: [{ type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test:*' }], behavior: 'allow', destination: 'localSettings' }] },
        PostToolUse: { ...common, hook_event_name: 'PostToolUse', ...bash, tool_use_id: `toolu_${round}`, tool_response: { stdout: 'ok', stderr: '', interrupted: false }, duration_ms: 1200 },
        Stop: { ...common, hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: 'All tests pass.' },
      };
      const counted = round >= WARMUP;
      for (const event of events) {
        const ms = await timed([HOOK, '--agent', 'claude'], JSON.stringify(payloads[event]), env);
        const base = await timed(['-e', '0'], undefined, env);
        const cli = await timed([MAIN, 'hook', '--agent', 'claude'], JSON.stringify(payloads[event]), env);
        if (counted) {
          times[event]!.push(ms);
          times['baseline']!.push(base);
          times['mam hook (the CLI command)']!.push(cli);
        }
      }
      // A session mam started: SessionStart also records the conversation id in the registry.
      const name = `b${round}-creator-claude`;
      await writeFile(registry, `tmux_sessions:\n  - {name: ${name}, agent: claude, workspace: ${workspace}, status: running, created_at: 2026-11-22T00:00:00Z, claude_session_id_own: null}\n`);
      const started = await timed([HOOK, '--agent', 'claude'], JSON.stringify({ ...payloads.SessionStart, session_id: sessionId.replace(/^7/, '8') }), { ...env, MAM_SESSION: name, MAM_REGISTRY: registry });
      if (counted) times['SessionStart (mam session)']!.push(started);
    }

    const cpu = (await run('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).catch(() => ({ stdout: os.cpus()[0]?.model ?? '?' }))).stdout.trim();
    const load = os.loadavg()[0]!.toFixed(2);
    console.log(`mam hook benchmark — ${new Date().toISOString()}, ${cpu}, ${os.cpus().length} cores, Node ${process.version}, load ${load}`);
    console.log(`${ROUNDS} rounds after ${WARMUP} warm-up; wall time from spawn to exit, ms`);
    const base = percentile(times['baseline']!, 0.5);
    const line = (label: string, values: readonly number[]): void =>
      console.log(`  ${label.padEnd(30)} median ${percentile(values, 0.5).toFixed(1).padStart(6)}  p95 ${percentile(values, 0.95).toFixed(1).padStart(6)}  ${(percentile(values, 0.5) / base).toFixed(2)}×`);
    for (const event of events) line(event, times[event]!);
    line('SessionStart (mam session)', times['SessionStart (mam session)']!);
    const all = events.flatMap((event) => times[event]!);
    line('all six events', all);
    line('mam hook (the CLI command)', times['mam hook (the CLI command)']!);
    line('baseline: node -e 0', times['baseline']!);
    const ratio = percentile(all, 0.5) / base;
    console.log(`  hook / bare node: ${ratio.toFixed(2)}× at the median; target ≤ 1.5×: ${ratio <= 1.5 ? 'PASS' : 'MISS'}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
