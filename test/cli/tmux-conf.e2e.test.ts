import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mam, Sandbox, type MamResult } from '../helpers/sandbox.js';

/**
 * Issue 13.3 on real tmux 3.3a (private sockets): a user's `set -g window-size manual` makes the tmux server exit
 * ("server exited unexpectedly") on a detached new-session, which took mam create — and every session on that
 * server — with it. A server mam starts reads no ~/.tmux.conf; on a server already up with `window-size manual`, mam
 * lifts it for its own new-session only and puts it back.
 */

let box: Sandbox;
let server: string;
let ws: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-tmux-conf-');
  server = box.serverName('conf');
  ws = path.join(box.home, 'w');
  await mkdir(ws, { recursive: true });
  await writeFile(path.join(box.home, '.tmux.conf'), 'set -g window-size manual\n');
});

afterEach(async () => {
  await box.dispose();
});

function run(args: readonly string[]): Promise<MamResult> {
  return mam(args, box.env({ MAM_TMUX_SERVER: server }));
}

describe('a ~/.tmux.conf with window-size manual (issue 13.3)', () => {
  it('mam create on a server it starts: the session runs at 200x50 and the conf was not loaded', async () => {
    const created = await run(['create', '--agent', 'cat', '--workspace', ws, '--name', 'c1', '--registry', box.registry]);
    expect(created.code, created.stderr).toBe(0);
    expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('c1');
    expect((await box.tmux(server, 'display-message', '-p', '-t', '=c1:', '#{window_width}x#{window_height}')).trim()).toBe('200x50');
    expect((await box.tmux(server, 'show-options', '-gv', 'window-size')).trim()).toBe('latest');
  });

  it('mam create on a server already up with window-size manual: created, the other session survives, the option is put back', async () => {
    // The user's own server: started without the conf (it could not start a detached session with it), then set.
    await box.tmux(server, '-f', '/dev/null', 'new-session', '-d', '-s', 'mine', 'sleep 100000');
    await box.tmux(server, 'set-option', '-g', 'window-size', 'manual');
    const created = await run(['create', '--agent', 'cat', '--workspace', ws, '--name', 'c2', '--registry', box.registry]);
    expect(created.code, created.stderr).toBe(0);
    expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim().split('\n').sort()).toEqual(['c2', 'mine']);
    expect((await box.tmux(server, 'display-message', '-p', '-t', '=c2:', '#{window_width}x#{window_height}')).trim()).toBe('200x50');
    expect((await box.tmux(server, 'show-options', '-gv', 'window-size')).trim()).toBe('manual');
  });
});
