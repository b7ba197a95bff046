import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/util/wait.js';
import { MAM, Sandbox } from '../helpers/sandbox.js';

/**
 * `mam monitor` as a person runs it: in a terminal (a real tmux pane, so stdin is a TTY), stopped by
 * typing `stop` or by one Ctrl-C. The pane keeps its dead process (remain-on-exit), so the test reads
 * whether the monitor's own process is gone and with which status.
 */
let box: Sandbox;
let term: string;
beforeEach(async () => {
  box = await Sandbox.create();
  term = box.serverName('term');
});
afterEach(async () => {
  await box.dispose();
});

async function startInPane(): Promise<void> {
  const watched = box.serverName('watched');
  // A long interval: ending must not wait for the next pass.
  const command = [process.execPath, MAM, 'monitor', '--registry', box.registry, '--tmux-server', watched, '--interval', '600'];
  const env = box.env({ MAM_LOG_LEVEL: 'warn' });
  const envFlags = Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : ['-e', `${key}=${value}`]));
  await box.tmux(term, '-f', '/dev/null', 'new-session', '-d', '-s', 'mon', '-x', '160', '-y', '40', ...envFlags, 'env', ...command);
  await box.tmux(term, 'set-option', '-w', '-t', '=mon:', 'remain-on-exit', 'on');
  monitorPid = Number((await box.tmux(term, 'display-message', '-p', '-t', '=mon:', '#{pane_pid}')).trim());
  if (!(await waitFor(async () => (await screen()).includes('[heartbeat] started'), 30_000))) throw new Error(`no heartbeat:\n${await screen()}`);
}

async function screen(): Promise<string> {
  return box.tmux(term, 'capture-pane', '-p', '-t', '=mon:');
}

let monitorPid = 0;

/**
 * Whether the monitor's own process has ended: gone, or a zombie (tmux 3.3a does not always reap a
 * pane's process whose terminal closed first; it has exited all the same).
 */
async function monitorEnded(): Promise<boolean> {
  const stat = await readFile(`/proc/${monitorPid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || / Z /.test(stat.slice(stat.lastIndexOf(')')));
}

async function lastLocalEntry(): Promise<{ kind: string; text: string }> {
  const directory = path.join(box.root, 'cache', 'agent-sessions-monitor');
  const file = (await readdir(directory)).find((name) => name.endsWith('.local.jsonl'))!;
  const lines = (await readFile(path.join(directory, file), 'utf8')).trim().split('\n');
  return JSON.parse(lines.at(-1)!) as { kind: string; text: string };
}

describe('mam monitor on a terminal', () => {
  it('ends after one Ctrl-C, with the local board blocked as documented', async () => {
    await startInPane();
    await box.tmux(term, 'send-keys', '-t', '=mon:', 'C-c');
    // One Ctrl-C only; the bound is generous for a busy machine, the measured time is well under a second.
    if (!(await waitFor(monitorEnded, 60_000))) throw new Error(`monitor ${monitorPid} still running:\n${await screen()}\n${await readFile(`/proc/${monitorPid}/stat`, "utf8").catch(() => "")}`);
    expect(await lastLocalEntry()).toMatchObject({ kind: 'block', text: expect.stringMatching(/^stop-requested by user at /) });
  });

  it('ends after "stop" and Enter', async () => {
    await startInPane();
    await box.tmux(term, 'send-keys', '-t', '=mon:', '-l', 'stop');
    await box.tmux(term, 'send-keys', '-t', '=mon:', 'Enter');
    if (!(await waitFor(monitorEnded, 60_000))) throw new Error(`monitor ${monitorPid} still running:\n${await screen()}\n${await readFile(`/proc/${monitorPid}/stat`, "utf8").catch(() => "")}`);
    expect(await lastLocalEntry()).toMatchObject({ kind: 'block', text: expect.stringMatching(/^stop-requested by user at /) });
  });
});
