import { readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { joinWords } from '../../src/util/shell-words.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { SessionReaper } from '../helpers/session-members.js';
import { until } from '../helpers/until.js';

/**
 * The live progress line of a long wait, end to end: `mam stop` of an agent that ignores its exit keys and SIGHUP
 * (the whole ladder, 8 s and more), once with stderr on a real terminal (a tmux pane) and once piped.
 */
let box: Sandbox;
let server: string;
/** Pane pids (= session ids) of the agents started here: what is left of them is killed by pid afterwards. */
const leftovers = new SessionReaper();

beforeEach(async () => {
  box = await Sandbox.create('mam-progress-');
  server = box.serverName('progress');
});

afterEach(async () => {
  leftovers.killAll();
  await box.dispose();
});

const env = (): NodeJS.ProcessEnv => box.env({ MAM_TMUX_SERVER: server, MAM_REGISTRY: box.registry });

/** An agent that outlives its exit keys (Ctrl-C) and kill-session (SIGHUP): only SIGKILL ends it. */
async function stubborn(name: string): Promise<void> {
  const ws = path.join(box.root, 'work', name);
  await mkdir(ws, { recursive: true });
  const created = await mam(['create', '--agent', 'bash', '--workspace', ws, '--name', name, '--', '-c', "trap '' TERM INT HUP; while :; do sleep 1; done"], env());
  expect(created.code, created.stderr).toBe(0);
  const entry = parseRegistry(box.registry, readFileSync(box.registry, 'utf8')).entries.find((candidate) => candidate.name === name);
  leftovers.track(entry!.pane!.pid!);
}

describe('the live progress line', () => {
  it('on a terminal: the stop ladder shows its stage and elapsed time, and the line is gone when it is done', async () => {
    await stubborn('slow');
    // A terminal for mam's stderr: a tmux pane (wide enough for the whole line) running the stop, then the exit code.
    const script = path.join(box.root, 'stop.sh');
    const exports = Object.entries(env()).filter((pair): pair is [string, string] => pair[1] !== undefined).map(([key, value]) => `export ${key}=${joinWords([value])}`);
    await writeFile(script, ['#!/bin/sh', ...exports, joinWords([process.execPath, MAM, 'stop', 'slow']), 'echo "EXIT $?"', 'exec sleep 100000', ''].join('\n'));
    await chmod(script, 0o755);
    const terminal = box.serverName('terminal');
    await box.tmux(terminal, 'new-session', '-d', '-s', 'term', '-x', '200', '-y', '20', script);
    const screen = (): Promise<string> => box.tmux(terminal, 'capture-pane', '-p', '-t', '=term:');

    // The ladder waits at least 3 s for the exit keys and 5 s after kill-session: the line is up all that time.
    // Every stage line seen until the stop is done is kept, and checked once it is.
    const seen = new Set<string>();
    await until(
      async () => {
        const text = await screen();
        for (const line of text.split('\n')) if (line.includes('stopping slow')) seen.add(line.trim());
        return /^EXIT \d+$/m.test(text);
      },
      'the stop to finish',
      120_000,
      { detail: screen },
    );
    const final = await screen();
    expect(final).toMatch(/^stopped slow \(sigkill\)\nEXIT 0$/m);
    // The line is gone: the result took its place, with nothing of the line left over.
    expect(final).not.toContain('stopping slow');
    expect(seen.size, 'the live line was on the terminal while the ladder ran').toBeGreaterThan(0);
    for (const line of seen) expect(line).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] stopping slow: .+ \(\d+ s\)$/);
  });

  it('piped: the same stop writes no carriage return, no escape sequence, no stage text', async () => {
    await stubborn('piped');
    const stop = await mam(['stop', 'piped'], env());
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toBe('stopped piped (sigkill)\n');
    expect(stop.stderr).not.toMatch(/[\r\x1b]/);
    expect(stop.stderr).not.toContain('stopping piped');
  });
});
