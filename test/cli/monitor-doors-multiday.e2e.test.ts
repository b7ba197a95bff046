import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Doors, HERMES, LOOK, tellsGone, type Card } from '../helpers/monitor-doors.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Runs of the monitor that last days: hand-overs under a dispatcher daemon and under one-shot `dispatch`, and a
 * hand-over that cannot put the card back. The doors that start the monitor are in monitor-doors.e2e.test.ts; the
 * set-up both share is test/helpers/monitor-doors.ts.
 */

let t: Doors;
beforeEach(async () => {
  t = await Doors.create();
});
afterEach(async () => {
  await t.dispose();
});

describe('multi-day monitoring with no silent end', () => {
  it('under the dispatcher daemon: three hand-overs, no cooldown, no failure, a drift in the gap told once', async () => {
    const { server, settings } = await t.watched();
    await mkdir(path.join(t.hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    // 65 s of runtime leaves 35 s to a run (Hermes's TERMINAL_TIMEOUT), which hands over 31 s before that: runs of ~4 s.
    const id = await t.createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--max-runtime', '65s', '--max-retries', '1', '--skill', 'agent-sessions-monitor', '--body', settings]);
    const daemon = spawn(HERMES, ['kanban', 'daemon', '--force', '--interval', '3'], { env: { ...t.env, HERMES_KANBAN_RATE_LIMIT_COOLDOWN_SECONDS: '3' }, stdio: 'ignore' });
    t.children.push(daemon);

    const handedOver = async (count: number): Promise<Card> =>
      untilValue(async () => {
        const card = await t.show(id);
        return card.runs.filter((item) => item.outcome === 'scheduled').length >= count ? card : undefined;
      }, `hand-over ${count}`, 180_000, LOOK);
    await handedOver(1);
    // Between two runs: nothing watches, and the next run must tell what happened meanwhile, once.
    await t.box.killSession(server, 'w-creator-claude');
    await handedOver(3);
    const card = await untilValue(async () => ((await t.show(id)).task.status === 'running' ? t.show(id) : undefined), 'the fourth run', 180_000, LOOK);
    expect(card.runs.length).toBeGreaterThanOrEqual(4);
    const ended = card.runs.filter((item) => item.ended_at !== null);
    expect(ended.map((item) => item.outcome)).toEqual(ended.map(() => 'scheduled'));
    expect(card.events.map((event) => event.kind)).not.toContain('gave_up');
    expect(card.comments.filter(tellsGone('w-creator-claude'))).toHaveLength(1);
    expect(card.comments.filter((comment) => comment.body.startsWith('SCHEDULED: mam monitor hand-over'))).toHaveLength(ended.length);
    await t.stopAndExpectBlocked(id);
  }, 480_000);

  it('under a one-shot dispatcher: a hand-over leaves the card ready for the next tick, never blocked', async () => {
    const { settings } = await t.watched();
    await mkdir(path.join(t.hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    const id = await t.createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--max-runtime', '65s', '--max-retries', '1', '--skill', 'agent-sessions-monitor', '--body', settings]);
    await t.hermes(['kanban', 'dispatch', '--json']);
    const parked = await untilValue(async () => {
      const card = await t.show(id);
      return card.task.status === 'ready' && card.runs.some((item) => item.outcome === 'scheduled') ? card : undefined;
    }, 'the hand-over', 120_000, LOOK);
    expect(parked.runs.map((item) => item.outcome)).toEqual(['scheduled']);
    // The next cron tick: the card runs again, with no crash booked for the run that ended.
    const tick = JSON.parse((await t.hermes(['kanban', 'dispatch', '--json'])).stdout) as { spawned: { task_id: string }[]; crashed: unknown[] };
    expect(tick.spawned.map((item) => item.task_id)).toEqual([id]);
    expect(tick.crashed).toEqual([]);
    await until(async () => (await t.show(id)).runs.length >= 2 && (await t.show(id)).events.filter((event) => event.kind === 'heartbeat').length >= 2, 'the second run', 180_000, LOOK);
    await t.stopAndExpectBlocked(id);
  });

  it('a hand-over that cannot put the card back says so on the card, with the command that continues it', async () => {
    const { settings } = await t.watched();
    await mkdir(path.join(t.hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    // A Hermes whose unblock fails (as 0.21 refuses it inside a worker's environment, say).
    await writeFile(path.join(t.bin, 'strict-hermes'), `#!/bin/sh\n[ "$2" = unblock ] && { echo "kanban: unblock refused" >&2; exit 1; }\nexec '${HERMES}' "$@"\n`);
    await chmod(path.join(t.bin, 'strict-hermes'), 0o755);
    t.env = { ...t.env, MAM_HERMES_BIN: path.join(t.bin, 'strict-hermes') };
    const id = await t.createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--max-runtime', '65s', '--max-retries', '1', '--body', settings]);
    await t.hermes(['kanban', 'dispatch', '--json']);
    const card = await untilValue(async () => {
      const current = await t.show(id);
      return current.comments.some((comment) => comment.body.includes('could not be put back to ready')) ? current : undefined;
    }, 'the comment on a failed release', 120_000, LOOK);
    expect(card.task.status).toBe('scheduled');
    expect(card.comments.at(-1)!.body).toContain(`\`hermes kanban unblock ${id}\` continues monitoring`);
  });
});
