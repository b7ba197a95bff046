import { describe, expect, it } from 'vitest';
import { killPids } from '../helpers/hermes-cli.js';
import { hasComment, laneEachTest, LOOK, type Logged } from '../helpers/lane-e2e.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * The Kanban lane (docs/lane.md) end to end with a fake Codex (test/fixtures/fake-agent.mjs) in tmux: the card is
 * dispatched by Hermes's dispatcher to `mam` as its HERMES_BIN, and this test plays both the person (comments on
 * the card) and the agent's reports (`mam job event`, the commands its first prompt names). `hermes` is the
 * stand-in (test/hermes) unless MAM_TEST_HERMES names a real Hermes launcher.
 * This file: the card's life (main path, stop and unblock, death, the approval block); lane-runs.e2e: runs and the CLI.
 */
const { lane, hermes, show, dispatch, createCard, logged, typed, entry, report, started, looking } = laneEachTest();

describe('a card assigned to codex-tmux, dispatched to mam', () => {
  it('starts the agent, says how to watch it, types comments in, comments progress, and completes with the summary', async () => {
    const id = await createCard('Write NOTES.md for the release.\ninterval: 1s\nprogress_every: 1s');
    const name = await started(id);
    expect(entry(name)!.kanban_card).toBe(id);
    // The card itself was the first prompt, under the job header.
    expect(typed(new RegExp(`Kanban card ${id}: write the notes\\. Write NOTES\\.md for the release\\.`))).toBe(true);
    const watch = await untilValue(async () => (await show(id)).comments.find((comment) => comment.body.includes('Watch it live')), 'the watch comment', 180_000, LOOK);
    expect(watch.body).toContain(`\`mam attach ${name}\``);
    expect(watch.body).toContain(`\`tmux -L ${lane().server} attach -t ${name}\``);
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

});
