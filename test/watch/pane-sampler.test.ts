import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codex } from '../../src/agents/codex.js';
import { PANE_MIN_CAPTURE_GAP_MS } from '../../src/watch/pane.js';
import { PaneSampler, type PaneTarget } from '../../src/watch/pane-sampler.js';
import { capturePanes } from '../../src/tmux/capture.js';
import type { TmuxServer } from '../../src/tmux/client.js';
import { Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * The pane sampler on a fake clock and a fake capture (what is captured when), and the batched capture
 * on real tmux servers on private sockets (vanished sessions, absent servers, undecodable bytes).
 */

const APPROVAL = `  Would you like to run the following command?\n  $ rm -rf build\n\n› 1. Yes, proceed (y)\n\n  Press enter to confirm or esc to cancel\n`;
const IDLE = `• done\n\n› Ask Codex to do anything\n`;

describe('PaneSampler (fake clock, fake capture)', () => {
  let now: number;
  let screens: Map<string, string | undefined>;
  let calls: { server: TmuxServer; sessions: string[] }[];
  let sampler: PaneSampler;
  const target = (session: string, server: TmuxServer = 'a'): PaneTarget => ({ session, server, patterns: codex.panePatterns });

  beforeEach(() => {
    now = 1_700_000_000_000;
    screens = new Map();
    calls = [];
    sampler = new PaneSampler({
      now: () => now,
      capture: async (server, sessions) => {
        calls.push({ server, sessions: [...sessions] });
        return new Map(sessions.map((session) => [session, screens.get(session)]));
      },
    });
  });

  it('captures due panes with one call per server, and none again before the minimum gap', async () => {
    screens.set('x', APPROVAL).set('y', IDLE).set('z', IDLE);
    const first = await sampler.sample([target('x'), target('y'), target('z', null)]);
    expect(calls).toEqual([
      { server: 'a', sessions: ['x', 'y'] },
      { server: null, sessions: ['z'] },
    ]);
    expect(first.get('x')).toEqual({ status: 'needs_approval', since: now });
    expect(first.get('y')?.status).toBeUndefined(); // idle not yet confirmed

    calls = [];
    now += PANE_MIN_CAPTURE_GAP_MS - 1;
    const early = await sampler.sample([target('x'), target('y'), target('z', null)]);
    expect(calls).toEqual([]);
    expect(early.get('x')?.status).toBe('needs_approval');

    now += 1;
    const due = await sampler.sample([target('x'), target('y'), target('z', null)]);
    expect(calls.flatMap((call) => call.sessions).sort()).toEqual(['x', 'y', 'z']);
    expect(due.get('y')?.status).toBe('waiting');
    // The open dialog (x) stays at the minimum gap; the idle screens back off.
    expect(sampler.nextCaptureAt()).toBe(now + PANE_MIN_CAPTURE_GAP_MS);
  });

  it('an idle pane polled every pass for a minute is captured 5 times, not 60', async () => {
    screens.set('x', IDLE);
    const start = now;
    let captures = 0;
    for (; now < start + 60_000; now += 1_000) {
      calls = [];
      await sampler.sample([target('x')]);
      captures += calls.length;
    }
    // t = 0, 2, 6, 14, 30 s (gaps 2, 4, 8, 16), then the 30 s cap: the next is due at 60 s.
    expect(captures).toBe(5);
  });

  it('a pane that vanished between listing and capture reads as unknown; a target no longer listed is forgotten', async () => {
    screens.set('x', APPROVAL);
    expect((await sampler.sample([target('x')])).get('x')?.status).toBe('needs_approval');
    screens.set('x', undefined);
    now += PANE_MIN_CAPTURE_GAP_MS;
    expect((await sampler.sample([target('x')])).get('x')).toEqual({ status: undefined, since: undefined });

    screens.set('x', APPROVAL);
    now += 60_000;
    await sampler.sample([target('x')]);
    await sampler.sample([]);
    expect(sampler.nextCaptureAt()).toBeUndefined();
    calls = [];
    // Forgotten: listed again, it is due at once (a fresh track), and its approval is news from now.
    const again = await sampler.sample([target('x')]);
    expect(calls).toHaveLength(1);
    expect(again.get('x')).toEqual({ status: 'needs_approval', since: now });
  });
});

describe('capturePanes (real tmux, private socket)', () => {
  let box: Sandbox;
  let server: string;
  const run = promisify(execFile);

  beforeEach(async () => {
    box = await Sandbox.create('mam-pane-capture-');
    server = box.serverName('cap');
  });
  afterEach(async () => {
    await box.dispose();
  });

  const options = (): { env: NodeJS.ProcessEnv } => ({ env: box.env() });

  async function waitForScreen(name: string, text: string): Promise<void> {
    await until(async () => (await box.tmux(server, 'capture-pane', '-p', '-t', `=${name}:`)).includes(text), `${name} to show ${text}`, 30_000);
  }

  it('captures several sessions in one call; one that does not exist gets undefined, the rest their screens', async () => {
    const ws = path.join(box.root, 'ws');
    await box.startSession(server, 'one', ws, 'printf "screen of one\\n"; sleep 100000');
    await box.startSession(server, 'three', ws, 'printf "screen of three\\n"; sleep 100000');
    await waitForScreen('one', 'screen of one');
    await waitForScreen('three', 'screen of three');

    const screens = await capturePanes(server, ['one', 'two', 'three', 'four'], options());
    expect(screens.get('one')).toContain('screen of one');
    expect(screens.get('one')).not.toContain('screen of three');
    expect(screens.get('three')).toContain('screen of three');
    expect(screens.has('two') && screens.get('two') === undefined).toBe(true);
    expect(screens.has('four') && screens.get('four') === undefined).toBe(true);
  });

  it('a server that is not running gives every session undefined, from a single tmux call', async () => {
    // "Quickly" means no call per session: a tmux that could not answer at all settles every session at once.
    // A wrapper counts the calls, so the test does not depend on how fast tmux starts on this machine.
    const calls = path.join(box.root, 'tmux-calls');
    const wrapper = path.join(box.root, 'tmux-counting');
    await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${calls}'\nexec tmux "$@"\n`);
    await run('chmod', ['+x', wrapper]);
    const screens = await capturePanes(box.serverName('absent'), ['a', 'b', 'c'], { ...options(), bin: wrapper });
    expect([...screens.entries()]).toEqual([
      ['a', undefined],
      ['b', undefined],
      ['c', undefined],
    ]);
    const lines = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('capture-pane');
  });

  it('undecodable bytes and escape sequences on screen come back as text, and classify without error', async () => {
    const ws = path.join(box.root, 'ws');
    const script = path.join(box.root, 'garbage.sh');
    await writeFile(script, `printf '\\377\\376\\200 bad \\033[31mred\\033[0m \\303\\050 end-of-garbage\\n'\nprintf '  Would you like to run the following command?\\n'\nexec sleep 100000\n`);
    await run('chmod', ['+x', script]);
    await box.startSession(server, 'garbled', ws, `sh ${script}`);
    await waitForScreen('garbled', 'end-of-garbage');
    const screen = (await capturePanes(server, ['garbled'], options())).get('garbled');
    expect(screen).toContain('end-of-garbage');
    expect(screen).not.toContain('\x1b');
    const sampler = new PaneSampler({ now: Date.now, tmux: options() });
    const reading = await sampler.sample([{ session: 'garbled', server, patterns: codex.panePatterns }]);
    expect(reading.get('garbled')?.status).toBe('needs_approval');
  });
});
