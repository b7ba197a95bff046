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
  // A PATH without any `mam-hook`, so the Node hook's command (--node) is node + dist/cli/hook.cjs by absolute path.
  env = box.env({ PATH: '/usr/bin:/bin' });
});
afterEach(async () => {
  await box.dispose();
});

const userFile = (): string => path.join(box.home, '.claude', 'settings.json');
const readJson = async (file: string): Promise<Settings> => JSON.parse(await readFile(file, 'utf8')) as Settings;
const HOOK_ENTRY = path.join(path.dirname(MAM), 'hook.cjs');
const FAST_HOOK = path.join(path.dirname(MAM), 'mam-hook.sh');
/** What `mam hooks install` writes by default: the fast hook. */
const fastCommand = (agent: string): string => `/bin/sh ${FAST_HOOK} --agent ${agent} --node ${process.execPath}`;
const ourCommand = fastCommand('claude');
/** The fast hook is told one event, PermissionRequest, so readers count it before the watcher records it. */
const fastEventCommand = (agent: string, event: string): string => (event === 'PermissionRequest' ? `${fastCommand(agent)} --event ${event}` : fastCommand(agent));
const nodeCommand = `${process.execPath} ${HOOK_ENTRY} --agent claude`;

function ours(settings: Settings): number {
  return Object.values(settings.hooks ?? {})
    .flat()
    .flatMap((group) => group.hooks)
    .filter((hook) => hook.command.includes('--agent claude')).length;
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
      expect(settings.hooks[event]).toEqual([{ matcher: '*', hooks: [{ type: 'command', command: fastEventCommand('claude', event), timeout: 10 }] }]);
    }
  });

  it('--node installs the Node hook: `mam-hook` when it is on PATH, else by path; either form replaces the other, and hooks an earlier version installed as `mam hook`', async () => {
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'mam-hook'), '#!/bin/sh\n');
    await chmod(path.join(bin, 'mam-hook'), 0o755);
    const result = await mam(['hooks', 'install', '--node'], box.env({ PATH: `${bin}:/usr/bin:/bin` }));
    expect(result.code, result.stderr).toBe(0);
    expect((await readJson(userFile())).hooks['Stop']![0]!.hooks[0]!.command).toBe('mam-hook --agent claude');
    // Switching to the path form replaces the entries instead of adding a second set; so does switching to the fast form.
    expect((await mam(['hooks', 'install', '--node'], env)).code).toBe(0);
    expect(ours(await readJson(userFile()))).toBe(11);
    expect((await readJson(userFile())).hooks['Stop']![0]!.hooks[0]!.command).toBe(nodeCommand);
    expect((await mam(['hooks', 'install'], env)).code).toBe(0);
    const settings = await readJson(userFile());
    expect(ours(settings)).toBe(11);
    expect(settings.hooks['Stop']![0]!.hooks[0]!.command).toBe(ourCommand);
    expect((await mam(['hooks', 'uninstall', '--node'], env)).stderr).toMatch(/--node is for install/);
    // The `mam hook` / `…/cli/main.js hook` forms of earlier versions are ours too: upgraded in place, or removed.
    for (const old of ['mam hook --agent claude', `${process.execPath} ${MAM} hook --agent claude`]) {
      await writeFile(userFile(), JSON.stringify({ hooks: { Stop: [{ matcher: '*', hooks: [{ type: 'command', command: old, timeout: 10 }] }] } }));
      expect((await mam(['hooks', 'install'], env)).code).toBe(0);
      const upgraded = await readJson(userFile());
      expect(upgraded.hooks['Stop']).toEqual([{ matcher: '*', hooks: [{ type: 'command', command: ourCommand, timeout: 10 }] }]);
      await writeFile(userFile(), JSON.stringify({ hooks: { Stop: [{ matcher: '*', hooks: [{ type: 'command', command: old }] }] }, theme: 'dark' }));
      expect((await mam(['hooks', 'uninstall'], env)).code).toBe(0);
      expect(await readJson(userFile())).toEqual({ theme: 'dark' });
    }
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
    // Byte for byte: the file was written with two-space indentation and no final newline, and is again.
    expect(await readFile(userFile(), 'utf8')).toBe(JSON.stringify(original, null, 2));

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
    expect(JSON.parse(result.stdout)).toEqual({ agent: 'claude', file: userFile(), added: 0, removed: 0, unchanged: 0 });
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
    expect(JSON.parse(first.stdout)).toEqual({ agent: 'claude', file: userFile(), added: 11, removed: 0, unchanged: 0 });
    const second = await mam(['hooks', 'install', '--json'], env);
    expect(JSON.parse(second.stdout)).toEqual({ agent: 'claude', file: userFile(), added: 0, removed: 0, unchanged: 11 });
    const removed = await mam(['hooks', 'uninstall', '--json'], env);
    expect(JSON.parse(removed.stdout)).toEqual({ agent: 'claude', file: userFile(), added: 0, removed: 11, unchanged: 0 });
  });

  it('rejects an unknown agent or scope with a usage error', async () => {
    expect((await mam(['hooks', 'install', '--agent', 'agy'], env)).code).toBe(64);
    expect((await mam(['hooks', 'install', '--scope', 'global'], env)).code).toBe(64);
    expect((await mam(['hooks', 'frob'], env)).code).toBe(64);
    const help = await mam(['hooks', '--help'], env);
    expect(help.stdout).toContain('Usage: mam hooks install|uninstall');
  });
});

describe('mam hooks --agent codex|gemini|all', () => {
  const codexFile = (): string => path.join(box.home, '.codex', 'hooks.json');
  const geminiFile = (): string => path.join(box.home, '.gemini', 'settings.json');
  const CODEX_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PermissionRequest', 'PostToolUse', 'Stop', 'StopFailure', 'Interrupt', 'SubagentStart', 'SubagentStop', 'SessionEnd'];
  const GEMINI_EVENTS = ['SessionStart', 'SessionEnd', 'BeforeAgent', 'AfterAgent', 'BeforeTool', 'AfterTool', 'Notification'];
  const commandFor = fastCommand;
  const count = (settings: Settings, agent: string): number =>
    Object.values(settings.hooks ?? {})
      .flat()
      .flatMap((group) => group.hooks)
      .filter((hook) => hook.command.includes(`--agent ${agent}`)).length;

  it('codex: ~/.codex/hooks.json with Codex\'s events, no matcher, timeout in seconds; says the hooks must be trusted', async () => {
    const result = await mam(['hooks', 'install', '--agent', 'codex'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`installed 11 hooks in ${codexFile()}`);
    expect(result.stdout).toContain('Trust all and continue');
    expect(result.stdout).toContain('running Codex sessions pick up hook changes only after a restart');
    const settings = await readJson(codexFile());
    expect(Object.keys(settings.hooks)).toEqual(CODEX_EVENTS);
    // Codex cuts SessionEnd hooks off after 3 s and warns about a longer timeout.
    for (const event of CODEX_EVENTS) expect(settings.hooks[event]).toEqual([{ hooks: [{ type: 'command', command: fastEventCommand('codex', event), timeout: event === 'SessionEnd' ? 3 : 10 }] }]);

    // Once Codex has recorded its trust in config.toml (the shape 0.171 writes), no note; twice = same bytes.
    const trusted = `model = "gpt-5.4"\n\n[hooks.state."${codexFile()}:session_start:0:0"]\ntrusted_hash = "sha256:00"\n`;
    await writeFile(path.join(box.home, '.codex', 'config.toml'), trusted);
    const before = await readFile(codexFile());
    const again = await mam(['hooks', 'install', '--agent', 'codex'], env);
    expect(again.stdout).toContain('already installed: 11 hooks');
    expect(again.stdout).not.toContain('Trust all');
    expect((await readFile(codexFile())).equals(before)).toBe(true);

    // mam created the file, so uninstall removes it, and leaves config.toml alone.
    const removed = await mam(['hooks', 'uninstall', '--agent', 'codex'], env);
    expect(removed.stdout).toContain(`removed 11 hooks from ${codexFile()}`);
    await expect(stat(codexFile())).rejects.toThrow();
    expect(await readFile(path.join(box.home, '.codex', 'config.toml'), 'utf8')).toBe(trusted);
  });

  it('codex honours CODEX_HOME, and --scope project writes <project>/.codex/hooks.json', async () => {
    const codexHome = path.join(box.root, 'codex-home');
    expect((await mam(['hooks', 'install', '--agent', 'codex'], { ...env, CODEX_HOME: codexHome })).code).toBe(0);
    expect(count(await readJson(path.join(codexHome, 'hooks.json')), 'codex')).toBe(11);
    await expect(stat(codexFile())).rejects.toThrow();

    const project = path.join(box.root, 'proj');
    await mkdir(project, { recursive: true });
    expect((await mam(['hooks', 'install', '--agent', 'codex', '--scope', 'project'], env, project)).code).toBe(0);
    expect(count(await readJson(path.join(project, '.codex', 'hooks.json')), 'codex')).toBe(11);
    // Uninstall takes the file and the .codex directory it made, and nothing else.
    expect((await mam(['hooks', 'uninstall', '--agent', 'codex', '--scope', 'project'], env, project)).code).toBe(0);
    await expect(stat(path.join(project, '.codex'))).rejects.toThrow();
    await expect(stat(project)).resolves.toBeTruthy();
  });

  it("gemini: merges into ~/.gemini/settings.json beside the user's own hooks and settings, and restores it byte for byte", async () => {
    const original = {
      general: { vimMode: true },
      hooks: {
        BeforeTool: [{ matcher: 'write_file|replace', hooks: [{ name: 'guard', type: 'command', command: '$GEMINI_PROJECT_DIR/.gemini/hooks/guard.sh', timeout: 5000 }] }],
      },
      hooksConfig: { enabled: true },
    };
    // Four-space indentation and a final newline: both come back.
    const text = `${JSON.stringify(original, null, 4)}\n`;
    await mkdir(path.dirname(geminiFile()), { recursive: true });
    await writeFile(geminiFile(), text);

    const install = await mam(['hooks', 'install', '--agent', 'gemini'], env);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain(`installed 7 hooks in ${geminiFile()}`);
    expect(install.stdout).toContain('running Gemini CLI sessions pick up hook changes only after a restart');
    const installedText = await readFile(geminiFile(), 'utf8');
    expect(installedText).toMatch(/^\{\n {4}"general"/);
    const installed = await readJson(geminiFile());
    expect(Object.keys(installed)).toEqual(['general', 'hooks', 'hooksConfig']);
    expect(Object.keys(installed.hooks)).toEqual(['BeforeTool', ...GEMINI_EVENTS.filter((event) => event !== 'BeforeTool')]);
    expect(installed.hooks['BeforeTool']).toEqual([...original.hooks.BeforeTool, { hooks: [{ name: 'mam', type: 'command', command: commandFor('gemini'), timeout: 10000 }] }]);
    expect(count(installed, 'gemini')).toBe(7);

    expect((await mam(['hooks', 'install', '--agent', 'gemini'], env)).stdout).toContain('already installed: 7 hooks');
    expect(await readFile(geminiFile(), 'utf8')).toBe(installedText);

    const uninstall = await mam(['hooks', 'uninstall', '--agent', 'gemini'], env);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect(uninstall.stdout).toContain(`removed 7 hooks from ${geminiFile()}`);
    expect(await readFile(geminiFile(), 'utf8')).toBe(text);
  });

  it('gemini --scope project writes <project>/.gemini/settings.json', async () => {
    const project = path.join(box.root, 'proj');
    await mkdir(project, { recursive: true });
    expect((await mam(['hooks', 'install', '--agent', 'gemini', '--scope', 'project', '--project', project], env)).code).toBe(0);
    expect(count(await readJson(path.join(project, '.gemini', 'settings.json')), 'gemini')).toBe(7);
    await expect(stat(geminiFile())).rejects.toThrow();
  });

  it('--agent all installs and removes all three, each agent only its own entries', async () => {
    const result = await mam(['hooks', 'install', '--agent', 'all', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { agent: 'claude', file: userFile(), added: 11, removed: 0, unchanged: 0 },
      { agent: 'codex', file: codexFile(), added: 11, removed: 0, unchanged: 0 },
      { agent: 'gemini', file: geminiFile(), added: 7, removed: 0, unchanged: 0 },
    ]);
    expect(count(await readJson(userFile()), 'claude')).toBe(11);
    expect(count(await readJson(userFile()), 'codex')).toBe(0);
    // Removing only Codex's leaves the others.
    expect((await mam(['hooks', 'uninstall', '--agent', 'codex'], env)).code).toBe(0);
    await expect(stat(codexFile())).rejects.toThrow();
    expect(count(await readJson(geminiFile()), 'gemini')).toBe(7);
    const all = await mam(['hooks', 'uninstall', '--agent', 'all'], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(`nothing to remove in ${codexFile()}`);
    await expect(stat(userFile())).rejects.toThrow();
    await expect(stat(geminiFile())).rejects.toThrow();
  });

  it('a malformed file stops --agent all before any file is written', async () => {
    await mkdir(path.dirname(geminiFile()), { recursive: true });
    // Gemini's settings may hold comments, which mam cannot keep: it says so and writes nothing.
    const commented = '{\n  // my settings\n  "general": {}\n}\n';
    await writeFile(geminiFile(), commented);
    const result = await mam(['hooks', 'install', '--agent', 'all'], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(geminiFile());
    expect(result.stderr).toContain('comments');
    expect(await readFile(geminiFile(), 'utf8')).toBe(commented);
    await expect(stat(userFile())).rejects.toThrow();
    await expect(stat(codexFile())).rejects.toThrow();

    await mkdir(path.dirname(codexFile()), { recursive: true });
    const wrongShape = '{"hooks": {"Stop": {"command": "x"}}}';
    await writeFile(codexFile(), wrongShape);
    for (const sub of ['install', 'uninstall']) {
      const codex = await mam(['hooks', sub, '--agent', 'codex'], env);
      expect(codex.code).not.toBe(0);
      expect(codex.stderr).toContain(`${codexFile()}: "hooks.Stop" is not an array`);
      expect(await readFile(codexFile(), 'utf8')).toBe(wrongShape);
    }
  });
});
