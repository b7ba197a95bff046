import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paneRecords } from '../../src/pane/record.js';
import { which } from '../../src/util/which.js';
import { mam, REPO, Sandbox } from '../helpers/sandbox.js';

/**
 * `mam pane spawn` types only into the agent it started: a role prompt typed into a shell is run, not read (its
 * backticks hold `mam pane register --task-done` and a report to the master). Real tmux, a real bash.
 */
let box: Sandbox;
let server: string;
let bin: string;
let ranLog: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-spawn-check-');
  server = box.serverName('spawn');
  bin = path.join(box.root, 'bin');
  ranLog = path.join(box.home, 'ran.log');
  await mkdir(bin, { recursive: true });
  // Every command an interactive bash runs is logged: typed text that reached it and was submitted would show here.
  await writeFile(path.join(box.home, '.bashrc'), `unset PROMPT_COMMAND\nPS1='$ '\ntrap 'printf "%s\\n" "$BASH_COMMAND" >> "${ranLog}"' DEBUG\n`);
  // The master pane: cat, so a report-back typed into it would show there.
  await box.startSession(server, 'main', box.root, 'cat');
  await box.tmux(server, 'set-environment', '-g', 'PATH', `${bin}:${process.env['PATH']}`);
  await box.tmux(server, 'set-environment', '-g', 'HOME', box.home);
});

afterEach(async () => {
  await box.dispose();
});

const spawn = (...args: string[]) =>
  mam(['pane', 'spawn', '--role', 'dev', '--task', 'list the files', '--master', '%0', '--tmux-server', server, '--registry', box.registry, ...args], box.env({ PATH: `${bin}:${process.env['PATH']}` }));

async function panes(): Promise<string[]> {
  return (await box.tmux(server, 'list-panes', '-a', '-F', '#{pane_id}')).trim().split('\n');
}

async function rows() {
  return existsSync(box.registry) ? paneRecords(parseDocument(await readFile(box.registry, 'utf8'))) : [];
}

describe('mam pane spawn: nothing is typed into anything but the agent', () => {
  it('a command that is no agent, with a role prompt, is refused up front: no pane, no row, nothing typed', async () => {
    const result = await spawn('--agent', 'bash');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/--agent bash is not an agent mam knows \(claude, codex, gemini, agy\).*a shell would run the commands in it\. Nothing was spawned\. Pass --no-prompt/);
    expect(await panes()).toEqual(['%0']);
    expect(await rows()).toEqual([]);
    expect(existsSync(ranLog)).toBe(false);
    expect(await box.tmux(server, 'capture-pane', '-p', '-t', '%0')).not.toMatch(/STEP COMPLETE|You are the/);
  });

  it('an agent name that starts a shell (codex → bash): nothing typed, a clear error, the pane closed, the row never done', async () => {
    // bash under the name codex, whatever arguments mam starts codex with (a bare symlink would refuse --no-daemon).
    await writeFile(path.join(bin, 'codex'), `#!${which('bash', process.env)!}\nexec -a codex ${which('bash', process.env)!}\n`, { mode: 0o755 });
    const result = await spawn('--agent', 'codex');
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^mam: pane spawn: the pane runs a shell \(bash: codex\), not codex at its prompt; nothing was typed into it, and pane %\d+ was closed\./);
    // The screen it had when refused: bash's prompt, and none of the role prompt.
    expect(result.stderr).toMatch(/Last screen:\n\$/);
    expect(result.stderr).not.toMatch(/You are the dev agent|\/color|\/rename/);
    // bash ran nothing after its start-up: not one line was submitted to it.
    expect(existsSync(ranLog) ? (await readFile(ranLog, 'utf8')).trim() : '').toBe('');
    expect(await panes()).toEqual(['%0']);
    expect(await rows()).toEqual([expect.objectContaining({ role: 'dev', agent: 'codex', status: 'closed', close_mode: 'kill-pane', task_done: false, report_back: false })]);
    expect(await box.tmux(server, 'capture-pane', '-p', '-t', '%0')).not.toMatch(/STEP COMPLETE|You are the/);
  });

  it('the agent itself passes the check (a stand-in codex run by node)', async () => {
    await symlink(path.join(REPO, 'test/fixtures/fake-agent.mjs'), path.join(bin, 'codex'));
    const result = await spawn('--agent', 'codex', '--no-prompt', '--json');
    expect(result.code, result.stderr).toBe(0);
    const { paneId } = JSON.parse(result.stdout) as { paneId: string };
    expect(await rows()).toEqual([expect.objectContaining({ pane_id: paneId, agent: 'codex', status: 'active' })]);
  });

  it('a command that is no agent runs with --no-prompt, and gets nothing typed', async () => {
    const received = path.join(box.home, 'tool.out');
    await writeFile(path.join(bin, 'tool'), `#!/bin/sh\necho tool-ready\nexec cat > "${received}"\n`);
    await chmod(path.join(bin, 'tool'), 0o755);
    const result = await spawn('--agent', 'tool', '--no-prompt', '--json');
    expect(result.code, result.stderr).toBe(0);
    const { paneId } = JSON.parse(result.stdout) as { paneId: string };
    expect(await rows()).toEqual([expect.objectContaining({ pane_id: paneId, agent: 'tool', status: 'active' })]);
    expect(await readFile(received, 'utf8')).toBe('');
  });
});
