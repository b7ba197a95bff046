/**
 * `mam restore` of 10 sessions after their tmux server was killed (issue 16.4): from the command's start until it
 * returns, every agent back at its prompt in its own conversation.
 *   restore (defaults)       `mam restore --yes`: 3 at a time, starts 2 s apart
 *   restore (no throttle)    `mam restore --yes --parallel 10 --stagger 0`
 * Baseline, measured in the same run on the same sessions: 10 sequential `mam resume NAME`, what a person or a script
 * did before restore existed.
 * The agents are test/fixtures/fake-agent.mjs as the Gemini CLI (its real chat files), each taking
 * FAKE_AGENT_READY_DELAY_MS (default 1000 ms, about what the real Claude Code CLI takes to show its prompt:
 * BENCHMARKS.md, 'Session lifecycle') to show its prompt. BENCH_RESTORE_RUNS (default 3) runs of each, medians.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { mam, REPO } from '../test/helpers/sandbox.js';
import { median, until } from './measure.js';
import { inBenchSandbox } from './sandbox.js';

const RUNS = Number(process.env['BENCH_RESTORE_RUNS'] ?? 3);
const SESSIONS = 10;
const READY_DELAY_MS = process.env['FAKE_AGENT_READY_DELAY_MS'] ?? '1000';

async function main(): Promise<void> {
  await inBenchSandbox('mam-bench-restore-', { name: 'gemini', target: path.join(REPO, 'test/fixtures/fake-agent.mjs') }, async ({ box, server, path: PATH }) => {
    const env = box.env({ PATH, MAM_REGISTRY: box.registry, MAM_TMUX_SERVER: server, FAKE_AGENT_READY_DELAY_MS: READY_DELAY_MS });
    const names = Array.from({ length: SESSIONS }, (_, index) => `b${index}`);
    const screen = (name: string) => box.tmux(server, 'capture-pane', '-p', '-t', `=${name}:`).catch(() => '');
    for (const name of names) {
      const ws = path.join(box.root, 'work', name);
      await mkdir(ws, { recursive: true });
      const created = await mam(['create', '--agent', 'gemini', '--workspace', ws, '--name', name], env);
      if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
      await until(async () => (await screen(name)).includes('Type your message'), 60_000, `${name}'s prompt`);
      await box.tmux(server, 'send-keys', '-t', `=${name}:`, '-l', 'hello');
      await box.tmux(server, 'send-keys', '-t', `=${name}:`, 'Enter');
      await until(async () => (await screen(name)).includes('echo: hello'), 60_000, `${name}'s answer`);
    }
    const recorded = await mam(['reconcile', '--once'], env);
    if (recorded.code !== 0) throw new Error(`reconcile failed: ${recorded.stderr}`);

    const crash = async (): Promise<void> => {
      const pid = Number((await box.tmux(server, 'display-message', '-p', '#{pid}')).trim());
      process.kill(pid, 'SIGKILL');
      await until(async () => box.tmux(server, 'list-sessions').then(() => false, () => true), 30_000, 'the killed server to be gone');
    };
    const timed = async (what: () => Promise<void>): Promise<number> => {
      await crash();
      const started = performance.now();
      await what();
      return performance.now() - started;
    };
    const restore = (flags: readonly string[]) => async (): Promise<void> => {
      const result = await mam(['restore', '--yes', ...flags, '--json'], env);
      const report = JSON.parse(result.stdout || '{}') as { results?: { outcome: string }[] };
      if (result.code !== 0 || report.results?.filter((item) => item.outcome === 'restored').length !== SESSIONS) throw new Error(`restore failed: ${result.stdout}${result.stderr}`);
    };
    const sequential = async (): Promise<void> => {
      for (const name of names) {
        const result = await mam(['resume', name], env);
        if (result.code !== 0 || !result.stdout.includes('recorded-id')) throw new Error(`resume ${name} failed: ${result.stdout}${result.stderr}`);
      }
    };

    const figures = { baseline: [] as number[], defaults: [] as number[], unthrottled: [] as number[] };
    for (let run = 0; run < RUNS; run += 1) {
      figures.baseline.push(await timed(sequential));
      figures.defaults.push(await timed(restore([])));
      figures.unthrottled.push(await timed(restore(['--parallel', String(SESSIONS), '--stagger', '0'])));
    }
    const line = (label: string, values: number[]) =>
      `${label.padEnd(44)} median ${(median(values) / 1000).toFixed(1)} s  (${values.map((value) => (value / 1000).toFixed(1)).join(', ')})  ×${(median(values) / median(figures.baseline)).toFixed(2)} of baseline`;
    console.log(`restore of ${SESSIONS} sessions, agents ready after ${READY_DELAY_MS} ms, ${RUNS} runs each`);
    console.log(line('baseline: 10 sequential `mam resume`', figures.baseline));
    console.log(line('`mam restore --yes` (3 at a time, 2 s stagger)', figures.defaults));
    console.log(line('`mam restore --yes --parallel 10 --stagger 0`', figures.unthrottled));
  });
}

await main();
