import { describe, expect, it } from 'vitest';
import { mam, MAM } from '../helpers/sandbox.js';
import { hasComment, laneEachTest, LOOK } from '../helpers/lane-e2e.js';
import { until } from '../helpers/until.js';

/**
 * `mam lane` from the command line (docs/lane.md), with the fake Codex of lane.e2e (test/helpers/lane-e2e.ts): a pull
 * run that claims a ready card by itself, and the bad input it refuses. Apart from lane-runs.e2e so vitest runs the two
 * side by side.
 */
const { lane, hermes, show, dispatch, createCard, typed, entry, report } = laneEachTest();

describe('mam lane from the command line', () => {
  it('pull mode: claims a ready card of a lane without a Hermes profile, works it to done, and exits 0 on SIGTERM', async () => {
    const id = (JSON.parse((await hermes(['kanban', 'create', 'pulled', '--assignee', 'pull-tmux', '--body', 'Pull me.\ninterval: 1s', '--json'])).stdout) as { id: string }).id;
    lane().track(id);
    // No profile: the dispatcher leaves the card alone.
    expect(JSON.parse((await dispatch()).stdout).spawned).toEqual([]);
    const { spawn } = await import('node:child_process');
    const puller = spawn(process.execPath, [MAM, 'lane', '--lane', 'pull-tmux', '--agent', 'codex', '--poll', '1'], { env: lane().env, stdio: 'ignore' });
    try {
      const name = `${id}-codex`;
      await until(() => entry(name)?.status === 'running' && typed(/Your job_id is/), 'the pulled card\'s agent', 180_000, LOOK);
      await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
      await report(name, 'completed', 'pulled and done');
      await until(async () => (await show(id)).task.status === 'done', 'the card done', 180_000, LOOK);
    } finally {
      puller.kill('SIGTERM');
      await until(() => puller.exitCode !== null || puller.signalCode !== null, 'the lane to exit', 60_000, LOOK);
    }
    expect(puller.exitCode).toBe(0);
  });

  it('refuses bad input with a usage error and does nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['lane', '--card', 't_1'], /--card needs --lane PROFILE or --agent AGENT/],
      [['lane', '--lane', 'odd'], /lane "odd" is not one of MAM_LANE_PROFILES; pass --agent AGENT/],
      [['lane', '--interval', 'soon'], /--interval takes a duration/],
      [['lane', '--agent', 'codex'], /--agent goes with one --lane/],
    ];
    for (const [args, message] of cases) {
      const result = await mam(args, lane().env);
      expect(result.code, args.join(' ')).toBe(64);
      expect(result.stderr).toMatch(message);
    }
    // A card that is not ready is not claimed: exit 1, and it says why.
    const id = await createCard('x');
    await hermes(['kanban', 'block', id, 'waiting']);
    const result = await mam(['lane', '--card', id, '--lane', 'codex-tmux'], lane().env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`card ${id} is blocked; only a ready card can be claimed`));
    expect(entry(`${id}-codex`)).toBeUndefined();
  });
});
