import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hermesCli, killPids, showCard, type HermesCall, type ShownCard } from '../helpers/hermes-cli.js';
import { mam, MAM, REPO, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Every way a person or Hermes starts the monitor: the original `hermes kanban create … --assignee default
 * --skill agent-sessions-monitor`, a card configured by comment, an LLM worker that loaded the skill, and runs
 * that last days (hand-overs under a dispatcher daemon and under one-shot `dispatch`).
 *
 * `hermes` is the faithful stand-in (test/hermes) unless MAM_TEST_HERMES names a real Hermes launcher (the
 * real kanban code, run as docs/hermes-kanban.md describes); the same assertions hold for both.
 */
const HERMES = process.env['MAM_TEST_HERMES'] || path.join(REPO, 'test', 'hermes', 'hermes');

let box: Sandbox;
let hermesHome: string;
let bin: string;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

beforeEach(async () => {
  box = await Sandbox.create('mam-doors-');
  hermesHome = path.join(box.root, 'hermes');
  bin = path.join(box.root, 'bin');
  await mkdir(bin, { recursive: true });
  await mkdir(hermesHome, { recursive: true });
  // HERMES_BIN must be one executable: a shim for the built CLI (npm would link the same).
  await writeFile(path.join(bin, 'mam'), `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
  await chmod(path.join(bin, 'mam'), 0o755);
  env = box.env({
    PATH: `${bin}:${process.env['PATH']}`,
    HERMES_HOME: hermesHome,
    HERMES_BIN: path.join(bin, 'mam'),
    MAM_HERMES_BIN: HERMES,
    HERMES_KANBAN_CRASH_GRACE_SECONDS: '0',
    MAM_LOG_LEVEL: 'info',
  });
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  // Workers the dispatcher started, by the pids the board recorded for this test's cards.
  killPids(await workerPids());
  await box.dispose();
});

const hermes = (args: string[], as: NodeJS.ProcessEnv = {}): Promise<HermesCall> => hermesCli(HERMES, args, { ...env, ...as });
type Card = ShownCard;
const cardIds: string[] = [];
const show = (id: string): Promise<Card> => showCard(HERMES, id, env);
/** Each look runs the stand-in CLI, a Node process: look no more often than that, on a loaded machine. */
const LOOK = { intervalMs: 200 } as const;
async function workerPids(): Promise<number[]> {
  const cards = await Promise.all(cardIds.splice(0).map((id) => show(id).catch(() => undefined)));
  return cards.flatMap((card) => card?.runs.flatMap((item) => (item.worker_pid ? [item.worker_pid] : [])) ?? []);
}

async function createCard(args: string[]): Promise<string> {
  const created = await hermes(['kanban', 'create', ...args, '--json']);
  expect(created.code, created.stderr).toBe(0);
  const id = (JSON.parse(created.stdout) as { id: string }).id;
  cardIds.push(id);
  return id;
}

/** A registered session to watch, and the card body lines that point the monitor at it. */
async function watched(): Promise<{ server: string; settings: string }> {
  const server = box.serverName('doors');
  for (const name of ['w-creator-claude', 'x-creator-claude']) await box.startSession(server, name, path.join(box.root, name));
  const entries = ['w-creator-claude', 'x-creator-claude'].map(
    (name) => `  - {name: ${name}, agent: claude, workspace: ${path.join(box.root, name)}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}`,
  );
  await box.writeRegistry(`tmux_sessions:\n${entries.join('\n')}\n`);
  return { server, settings: `registry: ${box.registry}\ninterval: 1s\nheartbeat: 2s` };
}

const tellsGone = (name: string) => (comment: { body: string }) => comment.body.includes(`${name}: tmux gone`) && /\[mam-monitor #\d+\]$/.test(comment.body);

/**
 * `tick`: what cron would do between looks, for a card no daemon dispatches: on a loaded machine a run may reach its
 * budget and hand over (card ready) before it reads the stop, and the next run must read it.
 */
async function stopAndExpectBlocked(id: string, tick: () => Promise<unknown> = () => hermes(['kanban', 'dispatch', '--json'])): Promise<Card> {
  expect((await hermes(['kanban', 'comment', id, 'stop'])).code).toBe(0);
  const card = await untilValue(async () => {
    const current = await show(id);
    if (current.task.status === 'blocked') return current;
    if (current.task.status === 'ready') await tick?.();
    return undefined;
  }, 'the stop block', 180_000, LOOK);
  expect(card.comments.at(-1)!.body).toMatch(/^BLOCKED: stop-requested by user at /);
  return card;
}

describe('every Hermes door reaches the monitor', () => {
  it("the original dispatch command, assigned to `default`, is run by mam and stopped by a person's `stop`", async () => {
    const { server, settings } = await watched();
    // Whatever reaches the real hermes is recorded: for this card, nothing must.
    const handedOff = path.join(box.root, 'handed-off');
    await writeFile(path.join(bin, 'real-hermes'), `#!/bin/sh\ncase "$1" in kanban) ;; *) echo "$*" >> '${handedOff}';; esac\nexec '${HERMES}' "$@"\n`);
    await chmod(path.join(bin, 'real-hermes'), 0o755);
    env = { ...env, MAM_HERMES_BIN: path.join(bin, 'real-hermes') };
    const body = `You are the agent-sessions monitor. Every 30 seconds, reconcile the registry below.\n\n${settings}\n`;
    const id = await createCard(['agent-sessions monitor', '--assignee', 'default', '--goal', '--goal-max-turns', '100', '--max-runtime', '8h', '--max-retries', '1', '--skill', 'agent-sessions-monitor', '--body', body]);

    expect((await hermes(['kanban', 'dispatch', '--json'])).code).toBe(0);
    await until(async () => (await show(id)).events.some((event) => event.kind === 'heartbeat'), 'the first heartbeat', 180_000, LOOK);
    await box.killSession(server, 'w-creator-claude');
    await until(async () => (await show(id)).comments.some(tellsGone('w-creator-claude')), 'the drift comment', 180_000, LOOK);
    // A person on the root profile comments as `default` too, the worker's own author: still a stop request.
    const card = await stopAndExpectBlocked(id);
    expect(card.comments.filter(tellsGone('w-creator-claude'))).toHaveLength(1);
    expect(await readFile(handedOff, 'utf8').catch(() => '')).toBe('');
  });

  it('a card with an unfilled template is blocked asking for a `registry:` comment, which then configures it', async () => {
    const { server, settings } = await watched();
    await mkdir(path.join(hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    const id = await createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--body', 'registry: {{registry}}\ninterval: {{interval}}\nheartbeat: {{heartbeat}}']);
    await hermes(['kanban', 'dispatch', '--json']);
    const blocked = await untilValue(async () => ((await show(id)).task.status === 'blocked' ? show(id) : undefined), 'the block for a missing registry', 180_000, LOOK);
    const reason = blocked.comments.at(-1)!.body;
    expect(reason).toMatch(/^BLOCKED: no registry configured and none found: comment `registry: \/absolute\/path\/\.hermes\/agent-sessions\.yaml` on this card/);
    expect(reason).toContain('then unblock it');
    expect(reason).not.toContain('{{');

    // The advice, followed as written on Hermes's own CLI.
    expect((await hermes(['kanban', 'comment', id, `please watch this one\n${settings}`])).code).toBe(0);
    expect((await hermes(['kanban', 'unblock', id])).code).toBe(0);
    await hermes(['kanban', 'dispatch', '--json']);
    await until(async () => (await show(id)).events.filter((event) => event.kind === 'heartbeat').length >= 2, 'heartbeats of the configured run', 180_000, LOOK);
    await box.killSession(server, 'x-creator-claude');
    await until(async () => (await show(id)).comments.some(tellsGone('x-creator-claude')), 'the drift comment', 180_000, LOOK);
    await stopAndExpectBlocked(id);
  });

  it('an LLM worker that loaded the skill runs the one command SKILL.md gives it, exactly as written', async () => {
    const { server, settings } = await watched();
    expect((await mam(['skills', 'install', '--hermes-home', hermesHome], env)).code).toBe(0);
    // The stand-in LLM: it reads the installed SKILL.md's LLM-worker section, runs its command verbatim in the
    // foreground, records the exit code, and ends its turn, as the skill tells it to.
    const llm = path.join(bin, 'llm-worker');
    await writeFile(
      llm,
      [
        '#!/bin/bash',
        `skill="$HERMES_HOME/skills/agent-sessions-monitor/SKILL.md"`,
        `command=$(awk '/^## If you are an LLM worker/{s=1} s && /^\`\`\`sh$/{f=1; next} f && /^\`\`\`/{exit} f' "$skill")`,
        `printf '%s\\n' "$command" > '${path.join(box.root, 'llm-command')}'`,
        'bash -c "$command"',
        `echo "rc=$?" >> '${path.join(box.root, 'llm-exit')}'`,
        'exit 0',
      ].join('\n'),
    );
    await chmod(llm, 0o755);
    env = { ...env, HERMES_BIN: llm };
    const id = await createCard(['agent-sessions monitor', '--assignee', 'default', '--goal', '--goal-max-turns', '1000', '--skill', 'agent-sessions-monitor', '--body', settings]);
    await hermes(['kanban', 'dispatch', '--json']);
    await until(async () => (await show(id)).events.some((event) => event.kind === 'heartbeat'), 'the first heartbeat', 180_000, LOOK);
    expect((await readFile(path.join(box.root, 'llm-command'), 'utf8')).trim()).toBe('mam monitor --card "$HERMES_KANBAN_TASK"');
    await box.killSession(server, 'w-creator-claude');
    await until(async () => (await show(id)).comments.some(tellsGone('w-creator-claude')), 'the drift comment', 180_000, LOOK);
    await stopAndExpectBlocked(id);
    expect(await untilValue(async () => (await readFile(path.join(box.root, 'llm-exit'), 'utf8').catch(() => '')).trim(), 'the LLM worker to see the exit', 180_000, LOOK)).toBe('rc=0');
    // The card is left as the program left it: blocked on the stop, nothing written by the LLM.
    expect((await show(id)).task.status).toBe('blocked');
  });
});

describe('multi-day monitoring with no silent end', () => {
  it('under the dispatcher daemon: three hand-overs, no cooldown, no failure, a drift in the gap told once', async () => {
    const { server, settings } = await watched();
    await mkdir(path.join(hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    // 65 s of runtime leaves 35 s to a run (Hermes's TERMINAL_TIMEOUT), which hands over 31 s before that: runs of ~4 s.
    const id = await createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--max-runtime', '65s', '--max-retries', '1', '--skill', 'agent-sessions-monitor', '--body', settings]);
    const daemon = spawn(HERMES, ['kanban', 'daemon', '--force', '--interval', '3'], { env: { ...env, HERMES_KANBAN_RATE_LIMIT_COOLDOWN_SECONDS: '3' }, stdio: 'ignore' });
    children.push(daemon);

    const handedOver = async (count: number): Promise<Card> =>
      untilValue(async () => {
        const card = await show(id);
        return card.runs.filter((item) => item.outcome === 'scheduled').length >= count ? card : undefined;
      }, `hand-over ${count}`, 180_000, LOOK);
    await handedOver(1);
    // Between two runs: nothing watches, and the next run must tell what happened meanwhile, once.
    await box.killSession(server, 'w-creator-claude');
    await handedOver(3);
    const card = await untilValue(async () => ((await show(id)).task.status === 'running' ? show(id) : undefined), 'the fourth run', 180_000, LOOK);
    expect(card.runs.length).toBeGreaterThanOrEqual(4);
    const ended = card.runs.filter((item) => item.ended_at !== null);
    expect(ended.map((item) => item.outcome)).toEqual(ended.map(() => 'scheduled'));
    expect(card.events.map((event) => event.kind)).not.toContain('gave_up');
    expect(card.comments.filter(tellsGone('w-creator-claude'))).toHaveLength(1);
    expect(card.comments.filter((comment) => comment.body.startsWith('SCHEDULED: mam monitor hand-over'))).toHaveLength(ended.length);
    await stopAndExpectBlocked(id);
  }, 480_000);

  it('under a one-shot dispatcher: a hand-over leaves the card ready for the next tick, never blocked', async () => {
    const { settings } = await watched();
    await mkdir(path.join(hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    const id = await createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--max-runtime', '65s', '--max-retries', '1', '--skill', 'agent-sessions-monitor', '--body', settings]);
    await hermes(['kanban', 'dispatch', '--json']);
    const parked = await untilValue(async () => {
      const card = await show(id);
      return card.task.status === 'ready' && card.runs.some((item) => item.outcome === 'scheduled') ? card : undefined;
    }, 'the hand-over', 120_000, LOOK);
    expect(parked.runs.map((item) => item.outcome)).toEqual(['scheduled']);
    // The next cron tick: the card runs again, with no crash booked for the run that ended.
    const tick = JSON.parse((await hermes(['kanban', 'dispatch', '--json'])).stdout) as { spawned: { task_id: string }[]; crashed: unknown[] };
    expect(tick.spawned.map((item) => item.task_id)).toEqual([id]);
    expect(tick.crashed).toEqual([]);
    await until(async () => (await show(id)).runs.length >= 2 && (await show(id)).events.filter((event) => event.kind === 'heartbeat').length >= 2, 'the second run', 180_000, LOOK);
    await stopAndExpectBlocked(id);
  });

  it('a hand-over that cannot put the card back says so on the card, with the command that continues it', async () => {
    const { settings } = await watched();
    await mkdir(path.join(hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    // A Hermes whose unblock fails (as 0.21 refuses it inside a worker's environment, say).
    await writeFile(path.join(bin, 'strict-hermes'), `#!/bin/sh\n[ "$2" = unblock ] && { echo "kanban: unblock refused" >&2; exit 1; }\nexec '${HERMES}' "$@"\n`);
    await chmod(path.join(bin, 'strict-hermes'), 0o755);
    env = { ...env, MAM_HERMES_BIN: path.join(bin, 'strict-hermes') };
    const id = await createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--max-runtime', '65s', '--max-retries', '1', '--body', settings]);
    await hermes(['kanban', 'dispatch', '--json']);
    const card = await untilValue(async () => {
      const current = await show(id);
      return current.comments.some((comment) => comment.body.includes('could not be put back to ready')) ? current : undefined;
    }, 'the comment on a failed release', 120_000, LOOK);
    expect(card.task.status).toBe('scheduled');
    expect(card.comments.at(-1)!.body).toContain(`\`hermes kanban unblock ${id}\` continues monitoring`);
  });
});
