import { describe, expect, it } from 'vitest';
import { chmod, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HERMES } from '../helpers/hermes-cli.js';
import { MAM } from '../helpers/sandbox.js';
import { hasComment, laneEachTest, LOOK } from '../helpers/lane-e2e.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * The Kanban lane (docs/lane.md) end to end with a fake Codex (test/fixtures/fake-agent.mjs) in tmux: the card is
 * dispatched by Hermes's dispatcher to `mam` as its HERMES_BIN, and this test plays both the person (comments on
 * the card) and the agent's reports (`mam job event`, the commands its first prompt names). `hermes` is the
 * stand-in (test/hermes) unless MAM_TEST_HERMES names a real Hermes launcher.
 * This file: runs (two at once, hand-over, a Hermes outage); lane-cli.e2e: the command line; lane.e2e: the card's life.
 */
const { lane, hermes, show, dispatch, createCard, logged, typed, entry, report, started } = laneEachTest();

describe('runs of a card dispatched to mam', () => {
  it('two runs of the same card at once start one agent, and one watch comment', async () => {
    const id = await createCard('Once only.\ninterval: 1s');
    // Claimed as the dispatcher does, then two worker runs side by side, as two dispatches of the card would start.
    const claimed = await hermes(['kanban', 'claim', id]);
    expect(claimed.code, claimed.stderr).toBe(0);
    const workspace = /^Workspace: (.+)$/m.exec(claimed.stdout)![1]!.trim();
    const { spawn } = await import('node:child_process');
    const runEnv = { ...lane().env, HERMES_KANBAN_TASK: id, HERMES_KANBAN_WORKSPACE: workspace, HERMES_PROFILE: 'codex-tmux' };
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
    const down = path.join(lane().box.root, 'hermes-down');
    const flaky = path.join(lane().bin, 'flaky-hermes');
    await writeFile(flaky, `#!/bin/sh\nif [ -e '${down}' ]; then echo 'hermes: connection refused' >&2; exit 3; fi\nexec '${HERMES}' "$@"\n`);
    await chmod(flaky, 0o755);
    lane().env = { ...lane().env, MAM_HERMES_BIN: flaky };
    const id = await createCard('Survive.\ninterval: 1s\nprogress_every: 1s');
    const name = await started(id);
    await until(async () => hasComment(await show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
    await writeFile(down, '');
    await report(name, 'progress', 'during the outage');
    await report(name, 'completed', 'finished while hermes was down');
    // Nothing can land meanwhile; the lane keeps it and retries.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await show(id)).task.status).toBe('running');
    await rm(down);
    const done = await untilValue(async () => ((await show(id)).task.status === 'done' ? show(id) : undefined), 'the card done after the outage', 180_000, LOOK);
    expect(JSON.stringify(done)).toContain('finished while hermes was down');
    expect(done.comments.filter((comment) => /during the outage/.test(comment.body))).toHaveLength(1);
    expect(done.comments.filter((comment) => comment.body.includes('Watch it live'))).toHaveLength(1);
  });
});
