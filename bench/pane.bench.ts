/**
 * `mam pane` timings on the real Claude Code CLI (scripted local model, test/claude harness), in a private tmux
 * server whose master pane %0 plays the coordinator:
 *   spawn → ready       split-window until Claude's prompt is visible (`readyMs` of `mam pane spawn --json`)
 *   spawn, all          the whole `mam pane spawn --no-prompt`: ready + /color and /rename each confirmed + title +
 *                       allow-rename + main-vertical (wall clock of the command, Node start included)
 *   send → confirmed    `mam pane send`'s receipt (`ms`): idle check, type, shown, Enter, submitted — a short
 *                       message, and a 5 KB multi-line one through the paste buffer
 *   kill                `mam pane kill --force`: /exit, process gone, rebalance (wall clock)
 * Baseline: the fixed sleeps the tmux templates `mam pane` replaces (agent-orchestration 1.0.11; docs/pane.md) spend
 * on the same steps, summed from those templates (not slept here: they cost the same whatever the agent does).
 */
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { claudeEnv, claudeOnPath, prepareClaudeHome, stopClaudes } from '../test/claude/claude-home.js';
import { startModelServer } from '../test/claude/model-server.js';
import { mam, Sandbox } from '../test/helpers/sandbox.js';

const RUNS = Number(process.env['BENCH_PANE_RUNS'] ?? 7);

/** Seconds of `sleep` in those templates for each step (1.0.11). */
const SEED_SLEEPS = {
  // sleep 10 before split-window, sleep 15 after it; its "verify spawned" loop sleeps 10 before the first look.
  ready: 10 + 15 + 10,
  // ready, then sleep 10 around each of: capture id, /color, /rename, allow-rename, select-pane -T, select-pane master.
  spawn: 10 + 15 + 10 + 10 + 10 + 10 + 10 + 10,
  // tmux_verify_delivery sleeps 10 before its first grep.
  send: 10,
  // sleep 10 before the existence check, 10 after /exit, 10 after select-pane master, 10 after select-layout.
  kill: 10 + 10 + 10 + 10,
};

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const box = await Sandbox.create('mam-bench-pane-');
  const model = await startModelServer([]);
  const server = box.serverName('bench');
  const tmux = (...args: string[]) => box.tmux(server, ...args);
  try {
    await mkdir(path.join(box.root, 'ws'), { recursive: true });
    const workspace = await realpath(path.join(box.root, 'ws'));
    await prepareClaudeHome(box.home, { workspaces: [workspace] });
    const pathWithClaude = await claudeOnPath(box.root);
    await box.startSession(server, 'main', workspace, 'sleep 100000');
    await tmux('resize-window', '-t', '=main:', '-x', '200', '-y', '50');
    for (const [key, value] of Object.entries({ ...claudeEnv({ home: box.home, serverUrl: model.url }), PATH: pathWithClaude })) await tmux('set-environment', '-g', key, value);
    const run = (...args: string[]) => mam(['pane', ...args, '--tmux-server', server, '--registry', box.registry], box.env({ PATH: pathWithClaude }));
    const big = `BIG-${'x'.repeat(4)} | "q" $(id) 🚀\n${Array.from({ length: 72 }, (_, index) => `line ${index}: the quick brown fox jumps over the lazy dog, again and again`).join('\n')}`;

    const ready: number[] = [];
    const spawnAll: number[] = [];
    const sendShort: number[] = [];
    const sendBig: number[] = [];
    const kill: number[] = [];
    for (let index = 0; index < RUNS + 1; index += 1) {
      let started = performance.now();
      const spawned = await run('spawn', '--role', 'dev', '--master', '%0', '--no-prompt', '--json');
      const spawnMs = performance.now() - started;
      if (spawned.code !== 0) throw new Error(`spawn failed: ${spawned.stderr}`);
      const { paneId, readyMs } = JSON.parse(spawned.stdout) as { paneId: string; readyMs: number };
      const short = await run('send', '--pane', paneId, '--message', `SHORT-${index} | a:b "q" 🚀`, '--json');
      if (short.code !== 0) throw new Error(`send failed: ${short.stderr}`);
      const long = await run('send', '--pane', paneId, '--message', big, '--token', 'BIG-xxxx', '--json');
      if (long.code !== 0) throw new Error(`send failed: ${long.stderr}`);
      started = performance.now();
      const killed = await run('kill', '--pane', paneId, '--force');
      const killMs = performance.now() - started;
      if (killed.code !== 0) throw new Error(`kill failed: ${killed.stderr}`);
      // The first round warms the page cache for the 245 MB binary; it is not counted.
      if (index === 0) continue;
      ready.push(readyMs);
      spawnAll.push(spawnMs);
      sendShort.push((JSON.parse(short.stdout) as { ms: number }).ms);
      sendBig.push((JSON.parse(long.stdout) as { ms: number }).ms);
      kill.push(killMs);
    }

    const row = (step: string, values: number[], seed: number) =>
      `| ${step} | ${median(values).toFixed(0)} | ${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} | ${seed} s | ${((seed * 1000) / median(values)).toFixed(0)}× |`;
    console.log(`pane benchmark: ${RUNS} runs (plus 1 warm-up), real Claude Code CLI, scripted model; medians in ms`);
    console.log('| step | median ms | range ms | seed\'s fixed sleeps | seed / mam |');
    console.log('|---|---|---|---|---|');
    console.log(row('spawn → prompt visible', ready, SEED_SLEEPS.ready));
    console.log(row('spawn, all (identity confirmed, layout)', spawnAll, SEED_SLEEPS.spawn));
    console.log(row('send → confirmed (short)', sendShort, SEED_SLEEPS.send));
    console.log(row('send → confirmed (5 KB, paste buffer)', sendBig, SEED_SLEEPS.send));
    console.log(row('kill (/exit, gone, rebalance)', kill, SEED_SLEEPS.kill));
  } finally {
    await stopClaudes(tmux);
    await model.close();
    await box.dispose();
  }
}

await main();
