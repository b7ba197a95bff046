import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hermesCli, killPids, showCard, type HermesCall, type ShownCard } from '../helpers/hermes-cli.js';
import { MAM, REPO, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * The monitor launched the two ways Hermes can launch it — as the dispatcher's HERMES_BIN, and as a
 * pull lane — against the stand-in `hermes` executable (test/hermes), with real tmux underneath.
 */
const STANDIN = path.join(REPO, 'test', 'hermes', 'hermes');

let box: Sandbox;
let hermesHome: string;
let env: NodeJS.ProcessEnv;
const started: number[] = [];

beforeEach(async () => {
  box = await Sandbox.create();
  hermesHome = path.join(box.root, 'hermes');
  await mkdir(path.join(hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
  // HERMES_BIN must be one executable: a two-line shim for the built CLI (npm would link the same).
  const shim = path.join(box.root, 'bin', 'mam');
  await mkdir(path.dirname(shim), { recursive: true });
  await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
  await chmod(shim, 0o755);
  env = box.env({ HERMES_HOME: hermesHome, HERMES_BIN: shim, MAM_HERMES_BIN: STANDIN, HERMES_KANBAN_CRASH_GRACE_SECONDS: '0', MAM_LOG_LEVEL: 'info' });
});
afterEach(async () => {
  killPids(started.splice(0));
  await box.dispose();
});

const hermes = (args: string[], as: NodeJS.ProcessEnv = {}): Promise<HermesCall> => hermesCli(STANDIN, args, { ...env, ...as });
const show = (id: string): Promise<ShownCard> => showCard(STANDIN, id, env);
/** Each look runs the stand-in CLI, a Node process: look no more often than that, on a loaded machine. */
const LOOK = { intervalMs: 100 } as const;

async function scenario(): Promise<{ server: string; body: string }> {
  const server = box.serverName('hermes');
  await box.startSession(server, 'w-creator-claude', box.root);
  await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${box.root}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
  return { server, body: `registry: ${box.registry}\ninterval: 1s\nheartbeat: 2s\ncommand: touch ${path.join(box.root, 'pwned')}` };
}

async function createCard(assignee: string, body: string): Promise<string> {
  // A turn budget far beyond the test: a run that hands over mid-test would need a dispatcher tick to go on.
  const created = await hermes(['kanban', 'create', 'agent-sessions monitor', '--assignee', assignee, '--goal', '--goal-max-turns', '1000', '--body', body, '--json']);
  expect(created.code, created.stderr).toBe(0);
  return (JSON.parse(created.stdout) as { id: string }).id;
}

describe('mam monitor launched by Hermes', () => {
  it('as HERMES_BIN: heartbeats, comments one coalesced drift when a session dies, blocks on "stop", exits 0', async () => {
    const { server, body } = await scenario();
    const id = await createCard('mam-monitor', body);
    const tick = await hermes(['kanban', 'dispatch', '--json']);
    expect(tick.code, tick.stderr).toBe(0);
    expect((JSON.parse(tick.stdout) as { spawned: { task_id: string }[] }).spawned.map((item) => item.task_id)).toEqual([id]);
    const pid = await untilValue(async () => (await show(id)).runs.at(-1)?.worker_pid ?? undefined, 'the worker pid', 30_000, LOOK);
    started.push(pid);

    await until(async () => (await show(id)).events.some((event) => event.kind === 'heartbeat'), 'the first heartbeat', 30_000, LOOK);
    await box.killSession(server, 'w-creator-claude');
    await until(async () => (await show(id)).comments.some((comment) => comment.body.includes('w-creator-claude: tmux gone')), 'the drift comment', 30_000, LOOK);
    await until(async () => (await show(id)).events.filter((event) => event.kind === 'heartbeat').length >= 3, 'periodic heartbeats', 30_000, LOOK);
    await hermes(['kanban', 'comment', id, 'stop']);
    const card = await untilValue(async () => {
      const current = await show(id);
      return current.task.status === 'blocked' ? current : undefined;
    }, 'the block', 30_000, LOOK);

    const ours = card.comments.filter((comment) => comment.author === 'mam-monitor');
    expect(ours.filter((comment) => comment.body.includes('tmux gone'))).toHaveLength(1);
    expect(ours.at(-1)!.body).toMatch(/^BLOCKED: stop-requested by user at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const logFile = path.join(hermesHome, 'kanban', 'logs', `${id}.log`);
    await until(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('[kanban-worker-exit] rc=0'), 'the exit trailer', 30_000, LOOK);
    // The dispatcher's next tick sees a clean exit after a block: no protocol violation, no retry.
    await hermes(['kanban', 'dispatch', '--json']);
    const after = await show(id);
    expect(after.events.map((event) => event.kind)).not.toContain('protocol_violation');
    expect(after.task.status).toBe('blocked');
    // The card body is data: the line that looked like a command was never run.
    await expect(readFile(path.join(box.root, 'pwned'))).rejects.toThrow();
  });

  it('as HERMES_BIN: hands every other profile to the real hermes with its argv unchanged', async () => {
    await mkdir(path.join(hermesHome, 'profiles', 'linguist'), { recursive: true });
    const recorded = path.join(box.root, 'handed-off.argv');
    const recorder = path.join(box.root, 'bin', 'real-hermes');
    await writeFile(recorder, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${recorded}'\nexec '${STANDIN}' "$@"\n`);
    await chmod(recorder, 0o755);
    env = { ...env, MAM_HERMES_BIN: recorder };
    const id = await createCard('linguist', 'translate the docs');
    await hermes(['kanban', 'dispatch', '--json']);
    const argv = await untilValue(async () => (await readFile(recorded, 'utf8').catch(() => '')) || undefined, 'the hand-off', 30_000, LOOK);
    expect(argv.trimEnd().split('\n')).toEqual(['-p', 'linguist', '--accept-hooks', 'chat', '-q', `work kanban task ${id}`]);
    // The handed-off hermes really ran (its output is in the card's log), and mam exited with it: only then
    // may the sandbox go (a process still starting in a deleted directory can wedge).
    const logFile = path.join(hermesHome, 'kanban', 'logs', `${id}.log`);
    await until(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes("only 'kanban' is implemented"), 'the real hermes to answer', 30_000, LOOK);
    const pid = await untilValue(async () => (await show(id)).runs.at(-1)?.worker_pid ?? undefined, 'the worker pid', 30_000, LOOK);
    await until(async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'mam to exit after the hand-off', 30_000, LOOK);
  });

  it('as a pull lane: claims the ready card, reports to it, blocks on "stop", and stops on SIGTERM', async () => {
    const { server, body } = await scenario();
    const id = await createCard('mam-lane', body);
    const lane = spawn(process.execPath, [MAM, 'monitor', 'lane', '--lane', 'mam-lane', '--poll', '0.5', '--ttl', '3600'], { env });
    started.push(lane.pid!);
    let output = '';
    lane.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => lane.once('exit', (code) => resolve(code)));

    await until(async () => (await show(id)).task.status === 'running', 'the claim', 30_000, LOOK);
    await until(async () => (await show(id)).events.some((event) => event.kind === 'heartbeat'), 'the first heartbeat', 30_000, LOOK);
    await box.killSession(server, 'w-creator-claude');
    await until(async () => (await show(id)).comments.some((comment) => comment.author === 'mam-lane' && comment.body.includes('tmux gone')), 'the drift comment', 30_000, LOOK);
    await hermes(['kanban', 'comment', id, 'stop monitoring']);
    await until(async () => (await show(id)).task.status === 'blocked', 'the block', 30_000, LOOK);
    lane.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  });
});
