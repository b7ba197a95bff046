/**
 * The Kanban lane (docs/lane.md, issue 17): how long a person waits, beside what the same work costs without the lane,
 * measured in the same run.
 *
 *   dispatch → first prompt   from `hermes kanban dispatch` to the card's prompt typed into the agent (the fake
 *                             agent's log of the line it read). Baseline: `mam create --agent codex --submit-job` of
 *                             the same prompt, from its start to the same log line — the lane minus Hermes's spawn,
 *                             its card read and its job.
 *   completed → done          from the agent's `completed` event (its time in the job file) to the lane's "card
 *                             completed" log line (after `hermes kanban complete` answered). Baseline: one bare
 *                             `hermes kanban complete` of another card — the call the lane must make anyway.
 *
 * The agent is test/fixtures/fake-agent.mjs as `codex` (the real agents' own start-up would swamp the figures), the
 * board is the Hermes stand-in (test/hermes/hermes; BENCH_HERMES=<a real launcher> to use another). Medians over
 * BENCH_ITERATIONS (default 5). Isolation: temp HOME, HERMES_HOME, registry, a private TMUX_TMPDIR; the tmux server
 * this script started is killed and the temp tree removed on success, failure and SIGINT/SIGTERM.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { waitFor } from '../src/util/wait.js';
import { MAM, REPO } from '../test/helpers/sandbox.js';

const ITERATIONS = Math.max(1, Number(process.env['BENCH_ITERATIONS'] ?? 5));
const HERMES = process.env['BENCH_HERMES'] || path.join(REPO, 'test', 'hermes', 'hermes');
const run = promisify(execFile);
const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-bench-lane-')));
const bin = path.join(root, 'bin');
const server = `mamb-lane-${process.pid}`;
const agentLog = path.join(root, 'agent.log');
const env: NodeJS.ProcessEnv = {
  PATH: `${bin}:${process.env['PATH']}`,
  HOME: path.join(root, 'home'),
  TMUX_TMPDIR: path.join(root, 'tmux'),
  XDG_CACHE_HOME: path.join(root, 'cache'),
  MAM_BROKER_DIR: path.join(root, 'broker'),
  MAM_REGISTRY: path.join(root, 'registry', 'agent-sessions.yaml'),
  MAM_TMUX_SERVER: server,
  MAM_LOG_LEVEL: 'info',
  MAM_WATCH: '0',
  MAM_NOTIFY: 'off',
  HERMES_HOME: path.join(root, 'hermes'),
  HERMES_BIN: path.join(bin, 'mam'),
  MAM_HERMES_BIN: HERMES,
  HERMES_KANBAN_CRASH_GRACE_SECONDS: '0',
  FAKE_AGENT_LOG: agentLog,
  CODEX_HOME: path.join(root, 'codex-home'),
  LANG: 'C.UTF-8',
};

async function cleanup(): Promise<void> {
  await run('tmux', ['-L', server, 'kill-server'], { env }).catch(() => undefined);
  const broker = path.join(root, 'broker', 'broker.json');
  if (existsSync(broker)) {
    try {
      process.kill((JSON.parse(readFileSync(broker, 'utf8')) as { pid: number }).pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

const hermes = async (...args: string[]): Promise<string> => (await run(HERMES, args, { env })).stdout;
const lines = (): { event: string; at: string; text?: string }[] =>
  existsSync(agentLog) ? readFileSync(agentLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; at: string; text?: string }) : [];
const typedAt = async (pattern: RegExp): Promise<number> => {
  let found: number | undefined;
  const ok = await waitFor(() => {
    found = lines().filter((line) => line.event === 'line' && pattern.test(line.text ?? '')).map((line) => Date.parse(line.at)).at(-1);
    return found !== undefined;
  }, 180_000, 50);
  if (!ok || found === undefined) throw new Error(`the prompt ${pattern} never reached the agent`);
  return found;
};
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  await mkdir(bin, { recursive: true });
  await mkdir(path.join(root, 'tmux'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(root, 'hermes', 'profiles', 'codex-tmux'), { recursive: true });
  await writeFile(path.join(bin, 'mam'), `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
  await chmod(path.join(bin, 'mam'), 0o755);
  await symlink(path.join(REPO, 'test/fixtures/fake-agent.mjs'), path.join(bin, 'codex'));
  const toPrompt: number[] = [];
  const createBaseline: number[] = [];
  const toDone: number[] = [];
  const completeBaseline: number[] = [];
  for (let index = 0; index < ITERATIONS; index += 1) {
    // The lane.
    const id = (JSON.parse(await hermes('kanban', 'create', `bench ${index}`, '--assignee', 'codex-tmux', '--body', `lane bench ${index}\ninterval: 1s`, '--json')) as { id: string }).id;
    const dispatched = Date.now();
    await hermes('kanban', 'dispatch', '--json');
    toPrompt.push((await typedAt(new RegExp(`Kanban card ${id}`))) - dispatched);
    const registry = parse(readFileSync(env['MAM_REGISTRY']!, 'utf8')) as { tmux_sessions: { name: string; delegate_job_id: string; delegate_job_registry: string }[] };
    const entry = registry.tmux_sessions.find((candidate) => candidate.name === `${id}-codex`)!;
    await run(process.execPath, [MAM, 'job', 'event', '--job', entry.delegate_job_id, '--registry-dir', entry.delegate_job_registry, '--event', 'completed', '--detail', 'bench'], { env }).catch(() => undefined);
    const job = JSON.parse(readFileSync(path.join(entry.delegate_job_registry, `${entry.delegate_job_id}.json`), 'utf8')) as { events: { event: string; at: string }[] };
    const completedAt = Date.parse(job.events.find((event) => event.event === 'completed')!.at);
    const logFile = path.join(root, 'hermes', 'kanban', 'logs', `${id}.log`);
    let doneAt: number | undefined;
    await waitFor(() => {
      const line = (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '').split('\n').find((text) => text.includes('"msg":"card completed"'));
      doneAt = line ? (JSON.parse(line) as { time: number }).time : undefined;
      return doneAt !== undefined;
    }, 180_000, 50);
    if (doneAt === undefined) throw new Error(`card ${id} was never completed`);
    toDone.push(doneAt - completedAt);

    // The baselines, in the same iteration.
    const workspace = path.join(root, 'ws', String(index));
    await mkdir(workspace, { recursive: true });
    const created = Date.now();
    const marker = `baseline prompt ${index}`;
    const made = run(process.execPath, [MAM, 'create', '--agent', 'codex', '--workspace', workspace, '--name', `base-${index}`, '--submit-job', marker], { env }).catch(() => undefined);
    createBaseline.push((await typedAt(new RegExp(marker))) - created);
    await made;
    const other = (JSON.parse(await hermes('kanban', 'create', `baseline ${index}`, '--assignee', 'nobody', '--json')) as { id: string }).id;
    await hermes('kanban', 'claim', other);
    const started = Date.now();
    await hermes('kanban', 'complete', other, '--summary', 'bench');
    completeBaseline.push(Date.now() - started);
    process.stderr.write(`iteration ${index + 1}/${ITERATIONS}: dispatch→prompt ${toPrompt.at(-1)} ms (create ${createBaseline.at(-1)} ms), completed→done ${toDone.at(-1)} ms (complete ${completeBaseline.at(-1)} ms)\n`);
  }
  const report = (what: string, values: number[], base: number[], baseName: string): void => {
    const ratio = median(values) / median(base);
    console.log(`${what.padEnd(22)} median ${median(values)} ms   ${baseName} ${median(base)} ms   ratio ${ratio.toFixed(2)}×`);
  };
  console.log(`lane bench: ${ITERATIONS} iterations, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}, hermes ${path.basename(path.dirname(HERMES))}/${path.basename(HERMES)}`);
  report('dispatch → 1st prompt', toPrompt, createBaseline, 'mam create --submit-job');
  report('completed → card done', toDone, completeBaseline, 'hermes kanban complete');
} finally {
  await cleanup();
}
