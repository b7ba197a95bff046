import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { mam, Sandbox, type MamResult } from '../helpers/sandbox.js';
import { SessionReaper, sessionMembers } from '../helpers/session-members.js';

/**
 * Issue 13.1 on real tmux (a private socket) with real processes: `mam stop` ends everything the agent runs, even
 * what it starts while the ladder is under way, and records which rung ended it (`stop_rung`) and whether a signal
 * was needed (`termination_mode: graceful | forced`).
 */

let box: Sandbox;
let server: string;
/** Pane pids (= session ids) of agents this test started: their leftovers are killed by pid afterwards. */
const leftovers = new SessionReaper();

beforeEach(async () => {
  box = await Sandbox.create('mam-stop-ladder-');
  server = box.serverName('ladder');
});

afterEach(async () => {
  // Only processes of the sessions this test started, found by their session id, never by name.
  leftovers.killAll();
  await box.dispose();
});

function run(args: readonly string[]): Promise<MamResult> {
  return mam(args, box.env({ MAM_TMUX_SERVER: server }));
}

function entryOf(name: string): RegistryEntry {
  const found = parseRegistry(box.registry, readFileSync(box.registry, 'utf8')).entries.find((entry) => entry.name === name);
  if (!found) throw new Error(`${name} is not in the registry:\n${readFileSync(box.registry, 'utf8')}`);
  return found;
}

function argvOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

const marked = (sid: number): number[] => sessionMembers(sid).filter((pid) => argvOf(pid) === 'sleep 771');

describe('mam stop ends the whole pane session (issue 13.1)', () => {
  it('an agent that ignores TERM/INT/HUP and keeps starting children: nothing of it survives; stop_rung sigkill, forced', async () => {
    const ws = path.join(box.home, 'w');
    await mkdir(ws, { recursive: true });
    const created = await run([
      'create', '--agent', 'bash', '--workspace', ws, '--name', 'sp', '--tmux-server', server, '--registry', box.registry, '--json',
      '--', '-c', "trap '' TERM INT HUP; while :; do sleep 771 & sleep 1; done",
    ]);
    expect(created.code, created.stderr).toBe(0);
    const sid = entryOf('sp').pane!.pid!;
    leftovers.track(sid);
    // The repro let it run 6 s; what matters is that several children exist before the stop begins.
    expect(await waitFor(() => marked(sid).length >= 4, 30_000, 100), 'the agent to start its children').toBe(true);

    const stop = await run(['stop', '--session', 'sp', '--registry', box.registry]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe('stopped sp (sigkill)');
    // Checked at once: the stop itself waits until every process it signalled is gone.
    expect(marked(sid)).toEqual([]);
    expect(sessionMembers(sid)).toEqual([]);
    expect(entryOf('sp')).toMatchObject({ status: 'stopped', stop_rung: 'sigkill', termination_mode: 'forced', resumable: true });
    expect(existsSync(box.registry)).toBe(true);
  });

  it('an agent that exits on its exit keys: stop_rung exit-keys, termination_mode graceful', async () => {
    const ws = path.join(box.home, 'w2');
    await mkdir(ws, { recursive: true });
    // `cat` ends on Ctrl-C, the exit keys of an agent mam knows nothing about.
    const created = await run(['create', '--agent', 'cat', '--workspace', ws, '--name', 'cat1', '--tmux-server', server, '--registry', box.registry]);
    expect(created.code, created.stderr).toBe(0);
    leftovers.track(entryOf('cat1').pane!.pid!);

    const stop = await run(['stop', '--session', 'cat1', '--registry', box.registry]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe('stopped cat1 (exit-keys)');
    expect(entryOf('cat1')).toMatchObject({ status: 'stopped', stop_rung: 'exit-keys', termination_mode: 'graceful' });
  });

  it('an agent that needs longer than 3 s to leave on its exit keys: forced by default, graceful with MAM_STOP_GRACE', async () => {
    const ws = path.join(box.home, 'w3');
    await mkdir(ws, { recursive: true });
    // Ctrl-C starts a 4 s shutdown (an agent saving its conversation): always past the default 3 s, on any machine.
    // The agent is the shell itself, and it shuts down in a builtin (`read -t` on a fifo nobody writes), running no
    // child: it is still there all the same.
    const slowExit = ['--', '-c', 'f=$(mktemp -u); mkfifo "$f"; exec 9<>"$f"; rm "$f"; trap \'read -t 4 -u 9; exit 0\' INT; while :; do sleep 1; done'];
    for (const name of ['slow1', 'slow2']) {
      const created = await run(['create', '--agent', 'bash', '--workspace', ws, '--name', name, '--tmux-server', server, '--registry', box.registry, ...slowExit]);
      expect(created.code, created.stderr).toBe(0);
      leftovers.track(entryOf(name).pane!.pid!);
    }

    const hurried = await run(['stop', '--session', 'slow1', '--registry', box.registry]);
    expect(hurried.code, hurried.stderr).toBe(0);
    expect(hurried.stdout.trim()).toBe('stopped slow1 (kill-session)');
    expect(entryOf('slow1')).toMatchObject({ stop_rung: 'kill-session', termination_mode: 'forced' });

    const patient = await mam(['stop', '--session', 'slow2', '--registry', box.registry], box.env({ MAM_TMUX_SERVER: server, MAM_STOP_GRACE: '300' }));
    expect(patient.code, patient.stderr).toBe(0);
    expect(patient.stdout.trim()).toBe('stopped slow2 (exit-keys)');
    expect(entryOf('slow2')).toMatchObject({ stop_rung: 'exit-keys', termination_mode: 'graceful' });
  });
});
