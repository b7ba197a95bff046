import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/util/wait.js';
import { mam, Sandbox } from '../helpers/sandbox.js';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create('mam-create-hooks-');
});
afterEach(async () => {
  await box.dispose();
});

describe('mam create --hooks', () => {
  it('installs mam\'s hooks in the workspace before the agent starts, and not for agy', async () => {
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    // A stand-in claude that records whether the hooks were there when it started.
    await writeFile(path.join(bin, 'claude'), '#!/bin/bash\ntest -f .claude/settings.json && echo present > "$HOME/hooks-at-start"\necho "? for shortcuts"\nwhile IFS= read -r line; do :; done\n');
    await chmod(path.join(bin, 'claude'), 0o755);
    const workspace = path.join(box.root, 'ws');
    await mkdir(workspace, { recursive: true });
    const env = box.env({ PATH: `${bin}:${process.env['PATH']}`, MAM_TMUX_SERVER: box.serverName('ch') });

    const created = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--hooks', '--registry', box.registry], env);
    expect(created.code, created.stderr).toBe(0);
    const settings = JSON.parse(await readFile(path.join(workspace, '.claude', 'settings.json'), 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
    expect(Object.keys(settings.hooks)).toHaveLength(11);
    expect(settings.hooks['PermissionRequest']![0]!.hooks[0]!.command).toMatch(/^\/bin\/sh \S+\/cli\/mam-hook\.sh --agent claude --node \S+ --event PermissionRequest$/);
    await waitFor(async () => (await readFile(path.join(box.home, 'hooks-at-start'), 'utf8').catch(() => '')) !== '', 30_000);
    expect(await readFile(path.join(box.home, 'hooks-at-start'), 'utf8')).toBe('present\n');

    const other = await mam(['create', '--agent', 'agy', '--workspace', workspace, '--hooks', '--registry', box.registry], env);
    expect(other.code).toBe(64);
    expect(other.stderr).toMatch(/--hooks installs Claude, Codex or Gemini CLI hooks; agy has none/);
  });

  it('installs Codex hooks in <workspace>/.codex/hooks.json and Gemini hooks in <workspace>/.gemini/settings.json', async () => {
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    for (const agent of ['codex', 'gemini']) {
      await writeFile(path.join(bin, agent), '#!/bin/bash\necho ready\nwhile IFS= read -r line; do :; done\n');
      await chmod(path.join(bin, agent), 0o755);
    }
    const workspace = path.join(box.root, 'ws');
    await mkdir(workspace, { recursive: true });
    const env = box.env({ PATH: `${bin}:${process.env['PATH']}`, MAM_TMUX_SERVER: box.serverName('cg') });

    const codex = await mam(['create', '--agent', 'codex', '--workspace', workspace, '--hooks', '--registry', box.registry], env);
    expect(codex.code, codex.stderr).toBe(0);
    expect(codex.stderr).toContain(`hooks installed in ${path.join(workspace, '.codex', 'hooks.json')}`);
    expect(codex.stderr).toContain('Trust all and continue');
    const codexHooks = JSON.parse(await readFile(path.join(workspace, '.codex', 'hooks.json'), 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
    expect(Object.keys(codexHooks.hooks)).toHaveLength(11);
    expect(codexHooks.hooks['PermissionRequest']![0]!.hooks[0]!.command).toMatch(/^\/bin\/sh \S+\/cli\/mam-hook\.sh --agent codex --node \S+ --event PermissionRequest$/);

    const gemini = await mam(['create', '--agent', 'gemini', '--workspace', workspace, '--hooks', '--registry', box.registry], env);
    expect(gemini.code, gemini.stderr).toBe(0);
    const geminiSettings = JSON.parse(await readFile(path.join(workspace, '.gemini', 'settings.json'), 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
    expect(Object.keys(geminiSettings.hooks)).toEqual(['SessionStart', 'SessionEnd', 'BeforeAgent', 'AfterAgent', 'BeforeTool', 'AfterTool', 'Notification']);
    expect(geminiSettings.hooks['Notification']![0]!.hooks[0]!.command).toMatch(/^\/bin\/sh \S+\/cli\/mam-hook\.sh --agent gemini --node \S+$/);
  });
});
