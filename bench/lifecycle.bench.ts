/**
 * Session lifecycle timings on the real Claude Code CLI (scripted local model, test/claude harness):
 *   create → prompt   `mam create --agent claude` until Claude's idle prompt is on screen
 *   stop → gone       `mam stop` of an idle Claude until the command returns (the process is gone by then)
 * Baseline, measured in the same run: the stop script `mam stop` replaced (tmux-agent-orchestrate-stop;
 * docs/development.md), which sleeps a fixed 3 s after the exit keys and 5 s after kill-session whatever the agent
 * does — timed here as that script runs it (send /exit, sleep 3, kill-session, sleep 5) against the same kind of
 * idle Claude.
 * Target (issue 4): a graceful stop of an idle agent well under 2 s.
 */
import { execFile } from 'node:child_process';
import { mkdir, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { claudeBin, claudeEnv, prepareClaudeHome } from '../test/claude/claude-home.js';
import { startModelServer } from '../test/claude/model-server.js';
import { capture, isEmptyIdlePrompt } from '../test/claude/tmux-screen.js';
import { mam } from '../test/helpers/sandbox.js';
import { median, until } from './measure.js';
import { inBenchSandbox } from './sandbox.js';

const run = promisify(execFile);
const RUNS = Number(process.env['BENCH_LIFECYCLE_RUNS'] ?? 7);
const SEED_RUNS = Number(process.env['BENCH_SEED_RUNS'] ?? 2);

async function main(): Promise<void> {
  await inBenchSandbox('mam-bench-life-', { name: 'claude', target: claudeBin() }, async ({ box, server, path: PATH }) => {
    const model = await startModelServer([]);
    try {
      await mkdir(path.join(box.root, 'ws'), { recursive: true });
      const workspace = await realpath(path.join(box.root, 'ws'));
      await prepareClaudeHome(box.home, { workspaces: [workspace] });
      const env = box.env({ ...claudeEnv({ home: box.home, serverUrl: model.url }), PATH });
      const registry = ['--registry', box.registry];
      const idle = (name: string) => async () => isEmptyIdlePrompt(await capture(box, server, `=${name}:`).catch(() => ''));

      const toPrompt: number[] = [];
      const toGone: number[] = [];
      for (let index = 0; index < RUNS + 1; index += 1) {
        const name = `bench${index}-creator-claude`;
        let started = performance.now();
        const created = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server, '--name', name, ...registry], env);
        if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
        await until(idle(name), 30_000, 'the idle prompt');
        const promptMs = performance.now() - started;
        started = performance.now();
        const stopped = await mam(['stop', '--session', name, ...registry], env);
        const stopMs = performance.now() - started;
        if (stopped.code !== 0 || !stopped.stdout.includes('(exit-keys)')) throw new Error(`stop did not end at the first rung: ${stopped.stdout}${stopped.stderr}`);
        // The first round warms caches (binary pages, Claude's first-run files): not counted.
        if (index > 0) {
          toPrompt.push(promptMs);
          toGone.push(stopMs);
        }
        await mam(['delete', '--session', name, ...registry], env);
      }

      // The replaced stop script, as it runs: exit keys, a fixed 3 s, kill-session, a fixed 5 s.
      const seed: number[] = [];
      for (let index = 0; index < SEED_RUNS; index += 1) {
        const name = `seed${index}-creator-claude`;
        await box.tmux(server, 'new-session', '-d', '-s', name, '-c', workspace, ...Object.entries(env).filter(([key]) => /^(ANTHROPIC|CLAUDE|DISABLE|HOME)/.test(key)).flatMap(([key, value]) => ['-e', `${key}=${value}`]), claudeBin());
        await until(idle(name), 30_000, 'the idle prompt (seed)');
        const started = performance.now();
        await box.tmux(server, 'send-keys', '-t', `=${name}:`, '/exit', 'Enter');
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        await box.tmux(server, 'kill-session', '-t', `=${name}`).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        seed.push(performance.now() - started);
      }

      const cpu = (await run('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])).stdout.trim();
      const claudeVersion = (await run(claudeBin(), ['--version'], { env })).stdout.trim();
      console.log(`mam lifecycle benchmark — ${new Date().toISOString()}, ${cpu}, ${os.cpus().length} cores, Node ${process.version}, Claude Code ${claudeVersion}`);
      console.log(`${RUNS} runs after 1 warm-up; medians (min–max) in ms`);
      const line = (label: string, values: number[]) =>
        console.log(`  ${label.padEnd(34)} ${median(values).toFixed(0).padStart(6)}  (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`);
      line('mam create → Claude prompt visible', toPrompt);
      line('mam stop (idle Claude) → gone', toGone);
      line(`seed stop script (${SEED_RUNS} runs)`, seed);
      const ratio = median(seed) / median(toGone);
      console.log(`  stop vs the seed's fixed sleeps: ${ratio.toFixed(1)}× faster; target: graceful stop of an idle agent well under 2 s: ${median(toGone) < 2_000 ? 'PASS' : 'MISS'}`);
    } finally {
      await model.close();
    }
  });
}

await main();
