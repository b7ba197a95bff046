import { spawn } from 'node:child_process';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { MAM, REPO, Sandbox } from '../helpers/sandbox.js';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create('mam-hook-');
});
afterEach(async () => {
  await box.dispose();
});

function hook(payload: unknown, env: NodeJS.ProcessEnv, raw?: string): Promise<{ code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAM, 'hook', '--agent', 'claude'], { env });
    child.once('exit', (code) => resolve({ code }));
    child.stdin.end(raw ?? JSON.stringify(payload));
  });
}

describe('mam hook', () => {
  it('writes per-agent fact files, and records the conversation id of the session mam started', async () => {
    await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: /w, status: running, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
    const env = box.env({ MAM_SESSION: 'w-creator-claude', MAM_REGISTRY: box.registry });
    const dir = path.join(box.root, 'cache', 'mam', 'status');
    const sid = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';
    expect((await hook({ session_id: sid, hook_event_name: 'SessionStart', source: 'startup', cwd: '/w' }, env)).code).toBe(0);
    expect(parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]).toMatchObject({ claude_session_id_own: sid });
    await hook({ session_id: sid, hook_event_name: 'UserPromptSubmit', prompt: 'hi' }, env);
    await hook({ session_id: sid, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'touch x' }, tool_use_id: 'toolu_1' }, env);
    await hook({ session_id: sid, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'touch x' } }, env);
    const main = JSON.parse(await readFile(path.join(dir, `${sid}.agent.main.json`), 'utf8')) as { status: string };
    expect(main.status).toBe('needs_approval');

    // /clear rotates the id: the registry follows.
    const next = 'a1b2c3d4-0000-4000-8000-000000000001';
    await hook({ session_id: sid, hook_event_name: 'SessionEnd', reason: 'clear' }, env);
    await hook({ session_id: next, hook_event_name: 'SessionStart', source: 'clear' }, env);
    expect(parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]).toMatchObject({ claude_session_id_own: next });
    expect((await readdir(dir)).filter((name) => name.startsWith(sid))).toEqual([]);
  });

  it('never fails the agent: garbage, a hostile id, or no stdin at all still exit 0, quickly, and are logged', async () => {
    // The default bounds, not the sandbox's raised ones: a silent stdin is given up after 2 s, not 24.
    const env = box.env({ MAM_HOOK_TIMEOUT: undefined });
    const garbage = await hook(undefined, env, 'not json');
    expect(garbage.code).toBe(0);
    expect((await hook({ session_id: '../../etc/passwd', hook_event_name: 'Stop' }, env)).code).toBe(0);
    const silent = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [MAM, 'hook'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
      child.once('exit', (code) => resolve(code));
      // stdin left open and empty: the hook gives up on it after its own deadline.
    });
    expect(silent).toBe(0);
    const log = await readFile(path.join(box.root, 'cache', 'mam', 'status', 'hook-errors.log'), 'utf8');
    expect(log).toMatch(/hook payload is not a JSON object/);
    expect(log).toMatch(/no usable session_id/);
    expect(log).toMatch(/hook payload is empty: nothing on stdin within \d+ ms/);
  });

  it("maps Gemini's own event names by the aliases its module declares: built into mam-hook, loaded by `mam hook`", async () => {
    const env = box.env({ MAM_WATCH: '0' });
    const dir = path.join(box.root, 'cache', 'mam', 'status');
    const entries = { 'mam-hook': [path.join(REPO, 'dist/cli/hook.cjs')], 'mam hook': [MAM, 'hook'] };
    for (const [index, argv] of Object.values(entries).entries()) {
      const sid = `7d2c9f4e-3b1a-4c8e-9f00-00000000001${index}`;
      const send = (payload: object): Promise<number | null> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, [...argv, '--agent', 'gemini'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
          child.once('exit', resolve);
          child.stdin.end(JSON.stringify({ session_id: sid, cwd: box.root, ...payload }));
        });
      const ls = { tool_name: 'run_shell_command', tool_input: { command: 'ls' } };
      const statuses: string[] = [];
      for (const payload of [
        { hook_event_name: 'BeforeAgent', prompt: 'list the files' },
        { hook_event_name: 'BeforeTool', ...ls },
        { hook_event_name: 'Notification', notification_type: 'ToolPermission', details: { type: 'exec', title: 'Shell', command: 'ls' } },
        { hook_event_name: 'AfterAgent', prompt_response: 'Done.' },
      ]) {
        expect(await send(payload)).toBe(0);
        statuses.push((JSON.parse(await readFile(path.join(dir, `${sid}.agent.main.json`), 'utf8')) as { status: string }).status);
      }
      expect({ entry: Object.keys(entries)[index], statuses }).toEqual({ entry: Object.keys(entries)[index], statuses: ['working', 'working', 'needs_approval', 'waiting'] });
    }
    expect(await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')).toBe('');
  });

  it('an unknown event or a missing transcript changes nothing and fails nothing; an unwritable status directory is said on stderr', async () => {
    const env = box.env({ MAM_WATCH: '0' });
    const dir = path.join(box.root, 'cache', 'mam', 'status');
    const sid = '7d2c9f4e-3b1a-4c8e-9f00-000000000002';
    await hook({ session_id: sid, hook_event_name: 'UserPromptSubmit', transcript_path: path.join(box.root, 'no', 'such.jsonl') }, env);
    const before = await readFile(path.join(dir, `${sid}.agent.main.json`), 'utf8');
    expect(JSON.parse(before)).toMatchObject({ status: 'working' });
    expect((await hook({ session_id: sid, hook_event_name: 'SomethingNew', extra: [1, 2] }, env)).code).toBe(0);
    expect(await readFile(path.join(dir, `${sid}.agent.main.json`), 'utf8')).toBe(before);

    // The status directory sits under a regular file: nothing can be written there, not even the error log.
    await writeFile(path.join(box.root, 'blocker'), 'a file, not a directory');
    const blocked = box.env({ MAM_WATCH: '0', MAM_STATUS_DIR: path.join(box.root, 'blocker', 'status') });
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [MAM, 'hook'], { env: blocked });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('exit', (code) => resolve({ code, stderr }));
      child.stdin.end(JSON.stringify({ session_id: sid, hook_event_name: 'Stop' }));
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/mam hook: .*ENOTDIR.*hook-errors\.log is not writable: ENOTDIR/);
  });

  it('records a PostToolUse whose tool_response is megabytes long; a 100 MB or cut-short payload is refused with a clear error once it is read', async () => {
    const env = box.env();
    const dir = path.join(box.root, 'cache', 'mam', 'status');
    const sid = '7d2c9f4e-3b1a-4c8e-9f00-000000000003';
    const fact = async (): Promise<{ status: string; tools: Record<string, unknown> }> => JSON.parse(await readFile(path.join(dir, `${sid}.agent.main.json`), 'utf8')) as { status: string; tools: Record<string, unknown> };
    // What `mam hooks install` registers: the bundled entry, the one agents run.
    // The payload waits in a file, as an agent has it ready when it spawns the hook: on a loaded machine this test
    // process, busy stringifying and piping 100 MB, could otherwise leave the hook's stdin silent past its idle bound.
    let payloads = 0;
    const bundled = async (payload: string): Promise<{ code: number | null }> => {
      const file = path.join(box.root, `payload-${(payloads += 1)}.json`);
      await writeFile(file, payload);
      const input = await open(file, 'r');
      try {
        return await new Promise((resolve) => {
          const child = spawn(process.execPath, [path.join(REPO, 'dist/cli/hook.cjs'), '--agent', 'claude'], { env, stdio: [input.fd, 'ignore', 'ignore'] });
          child.once('exit', (code) => resolve({ code }));
        });
      } finally {
        await input.close();
      }
    };
    const common = { session_id: sid, transcript_path: path.join(box.root, 'none.jsonl'), cwd: box.root };
    await hook({ ...common, hook_event_name: 'UserPromptSubmit', prompt: 'read it' }, env);
    await hook({ ...common, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/big' }, tool_use_id: 'toolu_big' }, env);
    expect(Object.keys((await fact()).tools)).toEqual(['toolu_big']);

    // The bound was 1 MB: this was dropped ("not a JSON object") and the tool stayed working until Stop.
    const large = { ...common, hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: 'toolu_big', tool_response: { content: 'line of a large file }"\\\n'.repeat(130_000) } };
    const payload = JSON.stringify(large);
    expect(payload.length).toBeGreaterThan(3_000_000);
    expect((await bundled(payload)).code).toBe(0);
    expect(await fact()).toMatchObject({ status: 'working', tools: {} });
    const errorLog = (): Promise<string> => readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '');
    expect(await errorLog()).toBe('');

    // A cut-short payload is not mistaken for a whole one, even when what arrived names the event and the tool.
    await hook({ ...common, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/big2' }, tool_use_id: 'toolu_2' }, env);
    const cut = await bundled(JSON.stringify({ ...large, tool_use_id: 'toolu_2' }).slice(0, 2_000_000));
    expect(cut.code).toBe(0);
    expect(await errorLog()).toMatch(/hook payload is truncated: stdin closed after 2000000 bytes, before the JSON object closed; not recorded/);
    expect(Object.keys((await fact()).tools)).toEqual(['toolu_2']);

    // 100 MB: over the 64 MB bound. Refused and said, after draining all of it to the end of stdin (no "stdin still
    // open": it was not cut by a time bound) — and within the hook's own deadline, as a hook past it exits unlogged.
    const huge = JSON.stringify({ ...common, hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: 'toolu_2', tool_response: 'x'.repeat(100_000_000) });
    const refused = await bundled(huge);
    expect(refused.code).toBe(0);
    expect(await errorLog()).toContain(`hook payload is larger than 64 MB (${Buffer.byteLength(huge)} bytes read); not recorded`);
    expect(Object.keys((await fact()).tools)).toEqual(['toolu_2']);
  });
});
