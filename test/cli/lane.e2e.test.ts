import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hermesCli, killPids, showCard, type HermesCall, type ShownCard } from '../helpers/hermes-cli.js';
import { mam, MAM, REPO, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * The Kanban lane (docs/lane.md) end to end with a fake Codex (test/fixtures/fake-agent.mjs) in tmux: the card is
 * dispatched by Hermes's dispatcher to `mam` as its HERMES_BIN, and this test plays both the person (comments on
 * the card) and the agent's reports (`mam job event`, the commands its first prompt names). `hermes` is the
 * stand-in (test/hermes) unless MAM_TEST_HERMES names a real Hermes launcher.
 */
const HERMES = process.env['MAM_TEST_HERMES'] || path.join(REPO, 'test', 'hermes', 'hermes');
const FAKE_AGENT = path.join(REPO, 'test/fixtures/fake-agent.mjs');
const LOOK = { intervalMs: 250 } as const;
/** LOOK, and on a timeout the card's comments and the agent's log: usually all it takes to see why. */
const looking = (id: string) => ({
  ...LOOK,
  detail: async () => `comments:\n${(await show(id)).comments.map((comment) => `${comment.author}: ${comment.body}`).join('\n')}\nagent log:\n${logged().map((event) => `${event.event} ${event.pid}`).join('\n')}`,
});

let box: Sandbox;
let hermesHome: string;
let bin: string;
let server: string;
let agentLog: string;
let env: NodeJS.ProcessEnv;
const cardIds: string[] = [];

beforeEach(async () => {
  box = await Sandbox.create('mam-lane-');
  hermesHome = path.join(box.root, 'hermes');
  bin = path.join(box.root, 'bin');
  server = box.serverName('lane');
  agentLog = path.join(box.root, 'agent.log');
  await mkdir(bin, { recursive: true });
  await mkdir(path.join(hermesHome, 'profiles', 'codex-tmux'), { recursive: true });
  await writeFile(path.join(bin, 'mam'), `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
  await chmod(path.join(bin, 'mam'), 0o755);
  await symlink(FAKE_AGENT, path.join(bin, 'codex'));
  env = box.env({
    PATH: `${bin}:${process.env['PATH']}`,
    HERMES_HOME: hermesHome,
    HERMES_BIN: path.join(bin, 'mam'),
    MAM_HERMES_BIN: HERMES,
    HERMES_KANBAN_CRASH_GRACE_SECONDS: '0',
    MAM_TMUX_SERVER: server,
    MAM_REGISTRY: box.registry,
    FAKE_AGENT_LOG: agentLog,
    CODEX_HOME: path.join(box.root, 'codex-home'),
    MAM_LOG_LEVEL: 'info',
  });
});

afterEach(async () => {
  const cards = await Promise.all(cardIds.splice(0).map((id) => show(id).catch(() => undefined)));
  killPids(cards.flatMap((card) => card?.runs.flatMap((item) => (item.worker_pid ? [item.worker_pid] : [])) ?? []));
  await box.tmux(server, 'kill-server').catch(() => undefined);
  const pids = logged().filter((event) => event.event === 'start').map((event) => event.pid);
  await until(() => pids.every((pid) => !existsSync(`/proc/${pid}`)), 'the fake agents to exit', 30_000).catch(() => undefined);
  await box.dispose();
});

const hermes = (args: string[], as: NodeJS.ProcessEnv = {}): Promise<HermesCall> => hermesCli(HERMES, args, { ...env, ...as });
const show = (id: string): Promise<ShownCard & { task: { status: string; result?: string | null } }> => showCard(HERMES, id, env);
const dispatch = (): Promise<HermesCall> => hermes(['kanban', 'dispatch', '--json']);

async function createCard(body: string, extra: string[] = []): Promise<string> {
  const created = await hermes(['kanban', 'create', 'write the notes', '--assignee', 'codex-tmux', '--body', body, ...extra, '--json']);
  expect(created.code, created.stderr).toBe(0);
  const id = (JSON.parse(created.stdout) as { id: string }).id;
  cardIds.push(id);
  return id;
}

interface Logged {
  event: string;
  pid: number;
  text?: string;
  resume?: string | null;
}
function logged(): Logged[] {
  if (!existsSync(agentLog)) return [];
  return readFileSync(agentLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Logged);
}
const typed = (pattern: RegExp): boolean => logged().some((event) => event.event === 'line' && pattern.test(event.text ?? ''));

interface Entry {
  name: string;
  status: string;
  kanban_card?: string;
  delegate_job_id?: string;
  delegate_job_registry?: string;
  pane?: { pid: number };
}
function entry(name: string): Entry | undefined {
  if (!existsSync(box.registry)) return undefined;
  const doc = parse(readFileSync(box.registry, 'utf8')) as { tmux_sessions?: Entry[] } | null;
  return doc?.tmux_sessions?.find((candidate) => candidate.name === name);
}

/** The agent's side: the report command its first prompt names. */
async function report(name: string, event: string, detail?: string): Promise<void> {
  const current = entry(name)!;
  const result = await mam(['job', 'event', '--job', current.delegate_job_id!, '--registry-dir', current.delegate_job_registry!, '--event', event, ...(detail ? ['--detail', detail] : [])], env);
  expect([0, 2], result.stderr).toContain(result.code);
}

async function started(id: string): Promise<string> {
  const name = `${id}-codex`;
  await dispatch();
  await until(() => entry(name)?.status === 'running' && typed(/Your job_id is/), 'the agent and its first prompt', 180_000, LOOK);
  return name;
}

const hasComment = (card: ShownCard, pattern: RegExp): boolean => card.comments.some((comment) => pattern.test(comment.body));

describe('a card assigned to codex-tmux, dispatched to mam', () => {
  it('starts the agent, says how to watch it, types comments in, comments progress, and completes with the summary', async () => {
    const id = await createCard('Write NOTES.md for the release.\ninterval: 1s\nprogress_every: 1s');
    const name = await started(id);
    expect(entry(name)!.kanban_card).toBe(id);
    // The card itself was the first prompt, under the job header.
    expect(typed(new RegExp(`Kanban card ${id}: write the notes\\. Write NOTES\\.md for the release\\.`))).toBe(true);
    const watch = await untilValue(async () => (await show(id)).comments.find((comment) => comment.body.includes('Watch it live')), 'the watch comment', 180_000, LOOK);
    expect(watch.body).toContain(`\`mam attach ${name}\``);
    expect(watch.body).toContain(`\`tmux -L ${server} attach -t ${name}\``);
    expect(watch.author).toBe('codex-tmux');

    expect((await hermes(['kanban', 'comment', id, 'please add a line BANANA'])).code).toBe(0);
    await until(() => typed(/^Comment from \S+ on the Kanban card: please add a line BANANA$/), 'the comment typed into the agent', 180_000, LOOK);

    await report(name, 'started');
    await report(name, 'progress', 'half way');
    await until(async () => hasComment(await show(id), /progress:[\s\S]*half way/), 'the progress comment', 180_000, LOOK);

    await report(name, 'completed', 'NOTES.md written with BANANA');
    const done = await untilValue(async () => ((await show(id)).task.status === 'done' ? show(id) : undefined), 'the card done', 180_000, LOOK);
    expect(done.runs.at(-1)!.outcome).toBe('completed');
    expect(JSON.stringify(done)).toContain('NOTES.md written with BANANA');
    // One watch comment, however many ticks ran; and the agent was stopped, its conversation kept.
    expect(done.comments.filter((comment) => comment.body.includes('Watch it live'))).toHaveLength(1);
    await until(() => entry(name)?.status === 'stopped', 'the agent stopped after the card was done', 60_000, LOOK);
  });

  it('`stop` stops the agent and blocks the card; unblocking resumes the same conversation', async () => {
    const id = await createCard('Refactor.\ninterval: 1s');
    const name = await started(id);
    // A first prompt makes the fake agent create its conversation.
    const conversation = await untilValue(async () => logged().find((event) => event.event === 'artifact') as (Logged & { id: string }) | undefined, 'the conversation', 60_000, LOOK);
    expect((await hermes(['kanban', 'comment', id, 'stop'])).code).toBe(0);
    const blocked = await untilValue(async () => ((await show(id)).task.status === 'blocked' ? show(id) : undefined), 'the stop block', 180_000, LOOK);
    expect(blocked.comments.at(-1)!.body).toMatch(/^BLOCKED: stop-requested by user at .*`hermes kanban unblock /);
    expect(entry(name)!.status).toBe('stopped');

    expect((await hermes(['kanban', 'unblock', id])).code).toBe(0);
    await dispatch();
    await until(() => entry(name)?.status === 'running', 'the agent resumed', 180_000, LOOK);
    const resumes = logged().filter((event) => event.event === 'start' && event.resume === conversation.id);
    expect(resumes).toHaveLength(1);
    await until(async () => hasComment(await show(id), /the card is running again; resumed conversation/), 'the resume comment', 180_000, LOOK);
    // The new stretch of work has a job of its own, whose report ends the card.
    await until(() => typed(/Continue Kanban card/), 'the continue prompt', 180_000, LOOK);
    await report(name, 'completed', 'refactored');
    await until(async () => (await show(id)).task.status === 'done', 'the card done', 180_000, LOOK);
  });

  it('an agent that dies is resumed once, then the card is blocked with its exit status and last screen', async () => {
    const id = await createCard('Build it.\ninterval: 1s');
    const name = await started(id);
    // Once it is under way (its first prompt confirmed, the watch comment out).
    await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
    const firstPid = entry(name)!.pane!.pid;
    killPids([logged().find((event) => event.event === 'start')!.pid]);
    await until(async () => hasComment(await show(id), /codex exited( with status \d+)?; resumed once into its conversation/), 'the resume after death', 180_000, looking(id));
    const second = await untilValue(async () => (entry(name)?.status === 'running' && entry(name)!.pane!.pid !== firstPid ? entry(name) : undefined), 'the resumed agent', 60_000, LOOK);
    await until(() => logged().filter((event) => event.event === 'start').length === 2, 'the second start', 60_000, LOOK);
    killPids([logged().filter((event) => event.event === 'start')[1]!.pid]);
    const blocked = await untilValue(async () => ((await show(id)).task.status === 'blocked' ? show(id) : undefined), 'the block', 180_000, LOOK);
    expect(blocked.comments.at(-1)!.body).toMatch(/^BLOCKED: codex exited( with status \d+)? after it was resumed once\. Last screen:\n> /);
    expect(second.name).toBe(name);
  });

  it('a slash command is typed as such; a long approval wait is commented once, then blocks the card when nobody is attached', async () => {
    const id = await createCard('Clean up.\ninterval: 1s\napproval_alert: 1s\napproval_block: 8s');
    const name = await started(id);
    await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
    // The fake agent's Codex approval dialog, asked for by a slash command on the card.
    expect((await hermes(['kanban', 'comment', id, '/fake-approval rm -rf build'])).code).toBe(0);
    await until(() => logged().some((event) => event.event === 'approval-asked'), 'the approval dialog', 180_000, LOOK);
    const told = await untilValue(async () => (await show(id)).comments.find((comment) => /has been waiting \d+ (?:s|min) for approval/.test(comment.body)), 'the approval comment', 180_000, looking(id));
    expect(told.body).toContain('rm -rf build');
    expect(told.body).toContain(`mam attach ${name}`);
    const blocked = await untilValue(async () => ((await show(id)).task.status === 'blocked' ? show(id) : undefined), 'the needs_input block', 180_000, looking(id));
    expect(blocked.comments.at(-1)!.body).toMatch(/^BLOCKED: codex has waited \d+ (?:s|min) for approval \(.*rm -rf build.*\) and nobody is attached/);
    expect(blocked.comments.filter((comment) => /has been waiting \d+ (?:s|min) for approval/.test(comment.body))).toHaveLength(1);
    // The agent is left waiting for its person, alive.
    expect(entry(name)!.status).toBe('running');
  });

  it('two runs of the same card at once start one agent, and one watch comment', async () => {
    const id = await createCard('Once only.\ninterval: 1s');
    // Claimed as the dispatcher does, then two worker runs side by side, as two dispatches of the card would start.
    const claimed = await hermes(['kanban', 'claim', id]);
    expect(claimed.code, claimed.stderr).toBe(0);
    const workspace = /^Workspace: (.+)$/m.exec(claimed.stdout)![1]!.trim();
    const { spawn } = await import('node:child_process');
    const runEnv = { ...env, HERMES_KANBAN_TASK: id, HERMES_KANBAN_WORKSPACE: workspace, HERMES_PROFILE: 'codex-tmux' };
    const runs = [0, 1].map(() => spawn(process.execPath, [MAM, '-p', 'codex-tmux', 'chat', '-q', `work kanban task ${id}`], { env: runEnv, cwd: workspace, stdio: 'ignore' }));
    try {
      const name = `${id}-codex`;
      await until(() => entry(name)?.status === 'running' && typed(/Your job_id is/), 'the agent and its first prompt', 180_000, LOOK);
      await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
      await report(name, 'completed', 'done once');
      await until(async () => (await show(id)).task.status === 'done', 'the card done', 180_000, LOOK);
      await until(() => runs.every((child) => child.exitCode !== null), 'both runs to end', 180_000, LOOK);
    } finally {
      for (const child of runs) if (child.exitCode === null) child.kill('SIGTERM');
    }
    expect(runs.map((child) => child.exitCode)).toEqual([0, 0]);
    expect(logged().filter((event) => event.event === 'start')).toHaveLength(1);
    expect((await show(id)).comments.filter((comment) => comment.body.includes('Watch it live'))).toHaveLength(1);
  });

  it('hands over before the run budget ends, and the next run re-attaches to the same live agent', async () => {
    // 65 s of runtime leaves 35 s to a run (TERMINAL_TIMEOUT), which hands over 31 s before that.
    const id = await createCard('Long job.\ninterval: 1s', ['--max-runtime', '65s']);
    const name = await started(id);
    const pid = entry(name)!.pane!.pid;
    const handedOver = await untilValue(async () => {
      const card = await show(id);
      if (card.task.status === 'ready') await dispatch();
      return card.runs.filter((item) => item.outcome === 'scheduled').length >= 1 && card.task.status === 'running' ? card : undefined;
    }, 'a hand-over and the next run', 180_000, LOOK);
    expect(handedOver.comments.some((comment) => comment.body.startsWith('SCHEDULED: mam lane hand-over'))).toBe(true);
    // The same agent, not a second one.
    expect(entry(name)!.pane!.pid).toBe(pid);
    expect(logged().filter((event) => event.event === 'start')).toHaveLength(1);
    await report(name, 'completed', 'done across runs');
    await until(async () => {
      const card = await show(id);
      if (card.task.status === 'ready') await dispatch();
      return card.task.status === 'done';
    }, 'the card done', 180_000, LOOK);
    expect(logged().filter((event) => event.event === 'start')).toHaveLength(1);
  }, 300_000);

  it('loses nothing while Hermes is down: the completion and the comments wait, and land once', async () => {
    // The worker's hermes: the real one, unless the outage flag file exists.
    const down = path.join(box.root, 'hermes-down');
    const flaky = path.join(bin, 'flaky-hermes');
    await writeFile(flaky, `#!/bin/sh\nif [ -e '${down}' ]; then echo 'hermes: connection refused' >&2; exit 3; fi\nexec '${HERMES}' "$@"\n`);
    await chmod(flaky, 0o755);
    env = { ...env, MAM_HERMES_BIN: flaky };
    const id = await createCard('Survive.\ninterval: 1s\nprogress_every: 1s');
    const name = await started(id);
    await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
    await writeFile(down, '');
    await report(name, 'progress', 'during the outage');
    await report(name, 'completed', 'finished while hermes was down');
    // Nothing can land meanwhile; the lane keeps it and retries.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await showCard(HERMES, id, env)).task.status).toBe('running');
    await rm(down);
    const done = await untilValue(async () => ((await show(id)).task.status === 'done' ? show(id) : undefined), 'the card done after the outage', 180_000, LOOK);
    expect(JSON.stringify(done)).toContain('finished while hermes was down');
    expect(done.comments.filter((comment) => /during the outage/.test(comment.body))).toHaveLength(1);
    expect(done.comments.filter((comment) => comment.body.includes('Watch it live'))).toHaveLength(1);
  });
});

describe('mam lane from the command line', () => {
  it('pull mode: claims a ready card of a lane without a Hermes profile, works it to done, and exits 0 on SIGTERM', async () => {
    const id = (JSON.parse((await hermes(['kanban', 'create', 'pulled', '--assignee', 'pull-tmux', '--body', 'Pull me.\ninterval: 1s', '--json'])).stdout) as { id: string }).id;
    cardIds.push(id);
    // No profile: the dispatcher leaves the card alone.
    expect(JSON.parse((await dispatch()).stdout).spawned).toEqual([]);
    const { spawn } = await import('node:child_process');
    const lane = spawn(process.execPath, [MAM, 'lane', '--lane', 'pull-tmux', '--agent', 'codex', '--poll', '1'], { env, stdio: 'ignore' });
    try {
      const name = `${id}-codex`;
      await until(() => entry(name)?.status === 'running' && typed(/Your job_id is/), 'the pulled card\'s agent', 180_000, LOOK);
      await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
      await report(name, 'completed', 'pulled and done');
      await until(async () => (await show(id)).task.status === 'done', 'the card done', 180_000, LOOK);
    } finally {
      lane.kill('SIGTERM');
      await until(() => lane.exitCode !== null || lane.signalCode !== null, 'the lane to exit', 60_000, LOOK);
    }
    expect(lane.exitCode).toBe(0);
  });

  it('refuses bad input with a usage error and does nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['lane', '--card', 't_1'], /--card needs --lane PROFILE or --agent AGENT/],
      [['lane', '--lane', 'odd'], /lane "odd" is not one of MAM_LANE_PROFILES; pass --agent AGENT/],
      [['lane', '--interval', 'soon'], /--interval takes a duration/],
      [['lane', '--agent', 'codex'], /--agent goes with one --lane/],
    ];
    for (const [args, message] of cases) {
      const result = await mam(args, env);
      expect(result.code, args.join(' ')).toBe(64);
      expect(result.stderr).toMatch(message);
    }
    // A card that is not ready is not claimed: exit 1, and it says why.
    const id = await createCard('x');
    await hermes(['kanban', 'block', id, 'waiting']);
    const result = await mam(['lane', '--card', id, '--lane', 'codex-tmux'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`card ${id} is blocked; only a ready card can be claimed`));
    expect(entry(`${id}-codex`)).toBeUndefined();
  });
});
