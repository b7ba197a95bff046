import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';

const EVENTS = [
  'SessionStart',
  'UserPromptSubmit',
  'PreToolUse',
  'PermissionRequest',
  'PostToolUse',
  'PostToolUseFailure',
  'Stop',
  'StopFailure',
  'SubagentStart',
  'SubagentStop',
  'SessionEnd',
];

type Settings = { hooks: Record<string, Array<{ matcher: string; hooks: Array<{ type: string; command: string; timeout?: number }> }>> } & Record<string, unknown>;

let box: Sandbox;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  box = await Sandbox.create();
  // A PATH without any `mam`, so the command is node + main.js by absolute path.
  env = box.env({ PATH: '/usr/bin:/bin' });
});
afterEach(async () => {
  await box.dispose();
});

const userFile = (): string => path.join(box.home, '.claude', 'settings.json');
const readJson = async (file: string): Promise<Settings> => JSON.parse(await readFile(file, 'utf8')) as Settings;
const ourCommand = `${process.execPath} ${MAM} hook --agent claude`;

function ours(settings: Settings): number {
  return Object.values(settings.hooks ?? {})
    .flat()
    .flatMap((group) => group.hooks)
    .filter((hook) => hook.command.includes(' hook --agent claude')).length;
}

describe('mam hooks', () => {
  it('install into an empty home creates settings.json with the 11 events', async () => {
    const result = await mam(['hooks', 'install'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`installed 11 hooks in ${userFile()}`);
    expect(result.stdout).toContain('restart');
    const settings = await readJson(userFile());
    expect(Object.keys(settings.hooks)).toEqual(EVENTS);
    for (const event of EVENTS) {
      expect(settings.hooks[event]).toEqual([{ matcher: '*', hooks: [{ type: 'command', command: ourCommand, timeout: 10 }] }]);
    }
  });

  it('uses `mam hook` when mam is on PATH', async () => {
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'mam'), '#!/bin/sh\n');
    await chmod(path.join(bin, 'mam'), 0o755);
    const result = await mam(['hooks', 'install'], box.env({ PATH: `${bin}:/usr/bin:/bin` }));
    expect(result.code, result.stderr).toBe(0);
    expect((await readJson(userFile())).hooks['Stop']![0]!.hooks[0]!.command).toBe('mam hook --agent claude');
    // Switching to the path form replaces the entries instead of adding a second set.
    expect((await mam(['hooks', 'install'], env)).code).toBe(0);
    const settings = await readJson(userFile());
    expect(ours(settings)).toBe(11);
    expect(settings.hooks['Stop']![0]!.hooks[0]!.command).toBe(ourCommand);
  });

  it('install twice leaves identical bytes and no duplicates', async () => {
    expect((await mam(['hooks', 'install'], env)).code).toBe(0);
    const first = await readFile(userFile());
    const firstMtime = (await stat(userFile())).mtimeMs;
    const again = await mam(['hooks', 'install'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already installed');
    expect((await readFile(userFile())).equals(first)).toBe(true);
    expect((await stat(userFile())).mtimeMs).toBe(firstMtime);
    expect(ours(await readJson(userFile()))).toBe(11);
  });

  it("keeps the user's own hooks and keys through install and uninstall", async () => {
    const original = {
      model: 'opus',
      hooks: {
        PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: '/home/u/guard.sh', timeout: 5 }] }],
        Notification: [{ matcher: '', hooks: [{ type: 'command', command: 'notify-send claude' }] }],
      },
      permissions: { allow: ['Bash(ls:*)'], deny: [] },
      env: { FOO: '1' },
    };
    await mkdir(path.dirname(userFile()), { recursive: true });
    await writeFile(userFile(), JSON.stringify(original, null, 2));

    const install = await mam(['hooks', 'install'], env);
    expect(install.code, install.stderr).toBe(0);
    const installed = await readJson(userFile());
    expect(Object.keys(installed)).toEqual(['model', 'hooks', 'permissions', 'env']);
    expect(installed['model']).toBe('opus');
    expect(installed['permissions']).toEqual(original.permissions);
    expect(installed.hooks['PreToolUse']).toEqual([...original.hooks.PreToolUse, { matcher: '*', hooks: [{ type: 'command', command: ourCommand, timeout: 10 }] }]);
    expect(installed.hooks['Notification']).toEqual(original.hooks.Notification);
    expect(ours(installed)).toBe(11);

    const uninstall = await mam(['hooks', 'uninstall'], env);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect(uninstall.stdout).toContain(`removed 11 hooks from ${userFile()}`);
    const restored = await readJson(userFile());
    expect(restored).toEqual(original);
    expect(JSON.stringify(restored)).toBe(JSON.stringify(original));

    const nothing = await mam(['hooks', 'uninstall'], env);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('nothing to remove');
  });

  it('uninstall drops the hooks key it created, and never touches foreign commands', async () => {
    await mkdir(path.dirname(userFile()), { recursive: true });
    const foreign = { hooks: { Stop: [{ matcher: '*', hooks: [{ type: 'command', command: 'mamba hook --agent claude-ish' }] }] } };
    await writeFile(userFile(), JSON.stringify({ theme: 'dark' }));
    expect((await mam(['hooks', 'install'], env)).code).toBe(0);
    expect((await mam(['hooks', 'uninstall'], env)).code).toBe(0);
    expect(JSON.stringify(await readJson(userFile()))).toBe(JSON.stringify({ theme: 'dark' }));

    await writeFile(userFile(), JSON.stringify(foreign));
    const result = await mam(['hooks', 'uninstall', '--json'], env);
    expect(JSON.parse(result.stdout)).toEqual({ file: userFile(), added: 0, removed: 0, unchanged: 0 });
    expect(await readJson(userFile())).toEqual(foreign);
  });

  it('--scope project writes <cwd>/.claude/settings.json (or --project DIR)', async () => {
    const project = path.join(box.root, 'proj');
    await mkdir(project, { recursive: true });
    const result = await mam(['hooks', 'install', '--scope', 'project'], env, project);
    expect(result.code, result.stderr).toBe(0);
    expect(ours(await readJson(path.join(project, '.claude', 'settings.json')))).toBe(11);
    await expect(stat(userFile())).rejects.toThrow();

    const other = path.join(box.root, 'other');
    expect((await mam(['hooks', 'install', '--scope', 'project', '--project', other], env, project)).code).toBe(0);
    expect(ours(await readJson(path.join(other, '.claude', 'settings.json')))).toBe(11);
  });

  it('malformed JSON: non-zero exit, one-line error naming the file, file unchanged', async () => {
    await mkdir(path.dirname(userFile()), { recursive: true });
    const broken = '{"model": "opus",, }\n';
    await writeFile(userFile(), broken);
    for (const sub of ['install', 'uninstall']) {
      const result = await mam(['hooks', sub], env);
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(userFile());
      expect(await readFile(userFile(), 'utf8')).toBe(broken);
    }
  });

  it('respects CLAUDE_CONFIG_DIR', async () => {
    const config = path.join(box.root, 'claude-config');
    const result = await mam(['hooks', 'install'], { ...env, CLAUDE_CONFIG_DIR: config });
    expect(result.code, result.stderr).toBe(0);
    expect(ours(await readJson(path.join(config, 'settings.json')))).toBe(11);
    await expect(stat(userFile())).rejects.toThrow();
  });

  it('--json reports {file, added, removed, unchanged}', async () => {
    const first = await mam(['hooks', 'install', '--json'], env);
    expect(JSON.parse(first.stdout)).toEqual({ file: userFile(), added: 11, removed: 0, unchanged: 0 });
    const second = await mam(['hooks', 'install', '--json'], env);
    expect(JSON.parse(second.stdout)).toEqual({ file: userFile(), added: 0, removed: 0, unchanged: 11 });
    const removed = await mam(['hooks', 'uninstall', '--json'], env);
    expect(JSON.parse(removed.stdout)).toEqual({ file: userFile(), added: 0, removed: 11, unchanged: 0 });
  });

  it('rejects an unknown agent or scope with a usage error', async () => {
    expect((await mam(['hooks', 'install', '--agent', 'codex'], env)).code).toBe(64);
    expect((await mam(['hooks', 'install', '--scope', 'global'], env)).code).toBe(64);
    expect((await mam(['hooks', 'frob'], env)).code).toBe(64);
    const help = await mam(['hooks', '--help'], env);
    expect(help.stdout).toContain('Usage: mam hooks install|uninstall');
  });
});
