import { existsSync, readFileSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HERMES, killPids } from '../helpers/hermes-cli.js';
import { hasComment, LaneFixture, LOOK, type LaneCard } from '../helpers/lane-e2e.js';
import { MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Nothing lost (docs/lane.md, 'Runs, hand-overs, restarts'): the lane's worker killed outright mid-run, with comments
 * still in its outbox, and the MQTT broker (embedded, or mosquitto) stopped and started while the agent reports.
 */
let lane: LaneFixture;
beforeEach(async () => {
  lane = await LaneFixture.create('mam-lane-faults-');
});
afterEach(async () => {
  await lane.dispose();
});

/** Ticks the dispatcher as its daemon would (it reclaims a dead worker's card and dispatches it again) until done. */
async function doneByDispatcher(id: string, what: string): Promise<LaneCard> {
  return untilValue(
    async () => {
      const card = await lane.show(id);
      if (card.task.status === 'done') return card;
      if (card.task.status !== 'blocked') await lane.dispatch();
      return undefined;
    },
    what,
    180_000,
    lane.looking(id),
  );
}

const startsOfAgents = () => lane.logged().filter((event) => event.event === 'start');

describe('the lane loses nothing across faults', () => {
  it('a SIGKILLed worker: the next dispatch re-attaches to the live agent and sends what the outbox held, once', async () => {
    // The worker's hermes fails while the flag file exists, so comments wait in the lane's outbox.
    const down = path.join(lane.box.root, 'hermes-down');
    const flaky = path.join(lane.bin, 'flaky-hermes');
    await writeFile(flaky, `#!/bin/sh\nif [ -e '${down}' ]; then echo 'hermes: connection refused' >&2; exit 3; fi\nexec '${HERMES}' "$@"\n`);
    await chmod(flaky, 0o755);
    lane.env = { ...lane.env, MAM_HERMES_BIN: flaky };
    const id = await lane.createCard('Survive a restart.\ninterval: 1s\nprogress_every: 1s');
    const name = await lane.started(id);
    await until(async () => hasComment(await lane.show(id), /Watch it live/), 'the watch comment', 180_000, LOOK);
    const agentPid = lane.entry(name)!.pane!.pid;
    const worker = (await lane.show(id)).runs.at(-1)!.worker_pid!;
    expect(worker).toBeGreaterThan(0);

    await writeFile(down, '');
    await lane.report(name, 'progress', 'said before the restart');
    const stateFile = path.join(lane.box.root, 'cache', 'agent-sessions-monitor', `lane-${id}.state`);
    const outbox = (): string => (existsSync(stateFile) ? JSON.stringify((JSON.parse(readFileSync(stateFile, 'utf8')) as { outbox: unknown }).outbox) : '');
    await until(() => outbox().includes('said before the restart'), 'the progress comment held in the outbox', 180_000, LOOK);
    killPids([worker]);
    await until(() => !existsSync(`/proc/${worker}`), 'the worker gone', 60_000, LOOK);
    // The agent goes on without a worker: its completion is in its job file.
    await lane.report(name, 'completed', 'finished across a restart of mam');
    await rm(down);

    const done = await doneByDispatcher(id, 'the card done by the next run');
    expect(JSON.stringify(done)).toContain('finished across a restart of mam');
    expect(done.comments.filter((comment) => comment.body.includes('said before the restart'))).toHaveLength(1);
    expect(done.comments.filter((comment) => comment.body.includes('Watch it live'))).toHaveLength(1);
    // Two runs, one agent: the next run re-attached to the same live session.
    expect(done.runs.length).toBeGreaterThanOrEqual(2);
    expect(startsOfAgents()).toHaveLength(1);
    expect(startsOfAgents()[0]!.pid).toBe(agentPid);
  });

  it('the embedded broker stopped while the agent reports: the card still completes with the summary', async () => {
    const id = await lane.createCard('Survive the broker.\ninterval: 1s\nprogress_every: 1s');
    const name = await lane.started(id);
    await lane.report(name, 'started');
    const record = path.join(lane.box.root, 'broker', 'broker.json');
    const broker = await untilValue(async () => (existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as { pid: number }).pid : undefined), 'the embedded broker', 60_000, LOOK);
    killPids([broker], 'SIGTERM');
    await until(() => !existsSync(`/proc/${broker}`), 'the broker gone', 60_000, LOOK);
    await lane.report(name, 'progress', 'reported while the broker was down');
    await lane.report(name, 'completed', 'done without a broker');
    const done = await doneByDispatcher(id, 'the card done');
    expect(JSON.stringify(done)).toContain('done without a broker');
    expect(done.comments.filter((comment) => comment.body.includes('reported while the broker was down'))).toHaveLength(1);
  });

  it.skipIf(MOSQUITTO_MISSING !== undefined)('mosquitto stopped and started again while the agent reports: the card completes with the summary', async () => {
    const dir = path.join(lane.box.root, 'mosquitto');
    let mosquitto = await startMosquitto(dir);
    try {
      lane.env = { ...lane.env, MAM_MQTT_URL: mosquitto.url };
      const id = await lane.createCard('Survive mosquitto.\ninterval: 1s\nprogress_every: 1s');
      const name = await lane.started(id);
      await lane.report(name, 'started');
      await mosquitto.stop();
      await lane.report(name, 'progress', 'reported while mosquitto was down');
      mosquitto = await startMosquitto(dir, mosquitto.port);
      await lane.report(name, 'completed', 'done across a mosquitto restart');
      const done = await doneByDispatcher(id, 'the card done');
      expect(JSON.stringify(done)).toContain('done across a mosquitto restart');
      expect(done.comments.filter((comment) => comment.body.includes('reported while mosquitto was down'))).toHaveLength(1);
    } finally {
      await mosquitto.stop();
    }
  });
});
