import { readFileSync, existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasComment, LaneFixture, LOOK } from '../helpers/lane-e2e.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Goal cards on the lane (docs/lane.md, 'Goal cards'): the agent's `completed` goes to the judge (MAM_LANE_JUDGE, a
 * scripted one here); a rejection goes back to the agent as a prompt and the card stays running; an accepted one
 * completes the card; the goal turn budget blocks it for review.
 */
let lane: LaneFixture;
let questions: string;

beforeEach(async () => {
  lane = await LaneFixture.create('mam-lane-goal-');
  questions = path.join(lane.box.root, 'judge.jsonl');
});
afterEach(async () => {
  await lane.dispose();
});

/** A judge that says `continue` (with `reason`) for its first `rejections` questions, then `done`; it logs each question. */
async function scriptedJudge(rejections: number, reason: string): Promise<string> {
  const script = path.join(lane.bin, 'judge.mjs');
  await writeFile(
    script,
    `import { appendFileSync, readFileSync } from 'node:fs';
let input = '';
process.stdin.on('data', (chunk) => (input += chunk)).on('end', () => {
  appendFileSync(${JSON.stringify(questions)}, input.trim() + '\\n');
  const asked = readFileSync(${JSON.stringify(questions)}, 'utf8').trim().split('\\n').length;
  console.log('judging...');
  console.log(JSON.stringify(asked <= ${rejections} ? { done: false, reason: ${JSON.stringify(reason)} } : { done: true, reason: 'looks finished' }));
});
`,
  );
  await chmod(script, 0o755);
  return `"${process.execPath}" "${script}"`;
}

const asked = (): { card: string; goal: string; response: string }[] =>
  existsSync(questions) ? readFileSync(questions, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { card: string; goal: string; response: string }) : [];

describe('a goal card on the lane', () => {
  it('a rejected completion goes back to the agent and the card keeps running; the accepted one completes it', async () => {
    lane.env = { ...lane.env, MAM_LANE_JUDGE: await scriptedJudge(1, 'no tests were added') };
    const id = await lane.createCard('Write NOTES.md with tests.\ninterval: 1s', ['--goal', '--goal-max-turns', '3']);
    const name = await lane.started(id);
    const firstJob = lane.entry(name)!.delegate_job_id;
    await lane.report(name, 'completed', 'NOTES.md written');

    // The judge's reason, typed into the agent (confirmed), with the new job's report commands.
    await until(() => lane.typed(new RegExp(`\\[Continuing Kanban card ${id}: the judge says it is not done yet\\] Reason: no tests were added\\. `)), 'the rejection typed into the agent', 180_000, lane.looking(id));
    const told = await untilValue(async () => (await lane.show(id)).comments.find((comment) => /the goal judge disagreed/.test(comment.body)), 'the rejection comment', 180_000, LOOK);
    expect(told.body).toContain('(turn 1/3): no tests were added. Sent back to codex to go on.');
    expect((await lane.show(id)).task.status).toBe('running');
    expect(lane.entry(name)!.status).toBe('running');
    const secondJob = lane.entry(name)!.delegate_job_id;
    expect(secondJob).not.toBe(firstJob);
    expect(lane.typed(new RegExp(`${secondJob}`))).toBe(true);

    await lane.report(name, 'completed', 'NOTES.md written, with tests');
    const done = await untilValue(async () => ((await lane.show(id)).task.status === 'done' ? lane.show(id) : undefined), 'the card done', 180_000, lane.looking(id));
    expect(JSON.stringify(done)).toContain('NOTES.md written, with tests');
    // Asked twice, each time with the card as the goal and that completion's summary; one agent all along.
    expect(asked().map((question) => question.response)).toEqual(['NOTES.md written', 'NOTES.md written, with tests']);
    expect(asked()[0]).toMatchObject({ card: id, goal: expect.stringMatching(/^write the notes\n\nWrite NOTES\.md with tests\./) as unknown });
    expect(lane.logged().filter((event) => event.event === 'start')).toHaveLength(1);
    expect(done.comments.filter((comment) => /the goal judge disagreed/.test(comment.body))).toHaveLength(1);
  });

  it('the goal turn budget spent, the card is blocked for review with the judge\'s last word', async () => {
    lane.env = { ...lane.env, MAM_LANE_JUDGE: await scriptedJudge(99, 'the glossary is missing') };
    const id = await lane.createCard('Translate.\ninterval: 1s', ['--goal', '--goal-max-turns', '2']);
    const name = await lane.started(id);
    await lane.report(name, 'completed', 'translated');
    await until(async () => hasComment(await lane.show(id), /the goal judge disagreed \(turn 1\/2\)/), 'the first rejection', 180_000, lane.looking(id));
    await until(() => lane.typed(/the judge says it is not done yet/), 'the rejection typed in', 180_000, LOOK);
    await lane.report(name, 'completed', 'translated again');
    const blocked = await untilValue(async () => ((await lane.show(id)).task.status === 'blocked' ? lane.show(id) : undefined), 'the budget block', 180_000, lane.looking(id));
    expect(blocked.comments.at(-1)!.body).toBe('BLOCKED: Goal-mode worker exhausted its turn budget (2/2) without completing the task. Last judge verdict: the glossary is missing');
    expect(asked()).toHaveLength(2);
    // Left running for its person, as any block does.
    expect(lane.entry(name)!.status).toBe('running');
  });
});
