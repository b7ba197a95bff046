import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeSpool, parseSpoolFile, pendingSpool, spoolDir, sweepSpoolTemps } from '../../src/facts/spool.js';
import { pidOrder, spoolNames } from '../../src/facts/spool-file.js';

/** The fast hook's spool format (src/facts/spool.ts), as src/facts/mam-hook.sh writes it. */
const header = (fields: Record<string, string>): string => `mam-hook-spool 1\0${Object.entries(fields).map(([key, value]) => `${key}=${value}\0`).join('')}\0`;
const FIELDS = { agent: 'codex', pid: '4242', start: '777', ppid: '4243', MAM_SESSION: 'w-creator-codex', MAM_REGISTRY: '/r.yaml', TMUX: '/tmp/tmux-1/default,9,0', TMUX_PANE: '%3' };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mam-spool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the spool', () => {
  it('lists payloads in the order the hooks ran: boot clock, then pid, both as numbers; temp files and strays are not payloads', async () => {
    await mkdir(dir, { recursive: true });
    for (const name of ['100-10', '99-500', '100-2', '.100-3.tmp', '101-1', 'notes.txt', '100-9x']) await writeFile(path.join(dir, name), '');
    expect(pendingSpool(dir)).toEqual(['99-500', '100-2', '100-10', '101-1']);
    expect(pendingSpool(path.join(dir, 'missing'))).toEqual([]);
  });

  it('keeps the order of one tick\'s hooks whose pids wrapped around pid_max', async () => {
    await mkdir(dir, { recursive: true });
    // PreToolUse got pid 32760, then the counter wrapped and PermissionRequest got 300, in the same 1/100 s.
    for (const name of ['100-300.PermissionRequest', '100-32760', '100-32700', '99-32767', '101-2']) await writeFile(path.join(dir, name), '');
    expect(spoolNames(dir, 32_768).map((entry) => entry.name)).toEqual(['99-32767', '100-32700', '100-32760', '100-300.PermissionRequest', '101-2']);
    // With Linux's largest pid_max the same pids are close together and not a wrap.
    expect(spoolNames(dir, 4_194_304).map((entry) => entry.name)).toEqual(['99-32767', '100-300.PermissionRequest', '100-32700', '100-32760', '101-2']);
    expect(pidOrder(10, 20, 32_768)).toBeLessThan(0);
    expect(pidOrder(32_000, 20, 32_768)).toBeLessThan(0);
    expect(pidOrder(20, 32_000, 32_768)).toBeGreaterThan(0);
  });

  it('sweeps the temp files of hooks that died mid-write, with or without an event in the name, and keeps the rest', async () => {
    const spool = spoolDir(dir);
    await mkdir(spool, { recursive: true });
    // A pid no process has (above any pid_max), and this process's own: its temp file is still being written.
    const dead = 4_194_999;
    const names = [`.100-${dead}.tmp`, `.101-${dead}.PermissionRequest.tmp`, `.102-${process.pid}.tmp`, `.103-${process.pid}.PermissionRequest.tmp`, '104-1', '105-2.PermissionRequest'];
    for (const name of names) await writeFile(path.join(spool, name), '');
    // A live hook's temp file gone stale (its pid reused by a long-lived process) goes too.
    const old = new Date(Date.now() - 11 * 60_000);
    await utimes(path.join(spool, `.103-${process.pid}.PermissionRequest.tmp`), old, old);
    sweepSpoolTemps(dir);
    expect((await readdir(spool)).sort()).toEqual([`.102-${process.pid}.tmp`, '104-1', '105-2.PermissionRequest']);
  });

  it('records the payloads oldest first, removing each, and stops between two files when told to', async () => {
    const spool = spoolDir(dir);
    await mkdir(spool, { recursive: true });
    const events = ['UserPromptSubmit', 'Stop', 'UserPromptSubmit'];
    for (const [index, event] of events.entries()) await writeFile(path.join(spool, `10${index}-5`), `${header({ ...FIELDS, MAM_SESSION: '', MAM_REGISTRY: '' })}${JSON.stringify({ session_id: `s${index}`, hook_event_name: event })}`);
    const recorded: string[] = [];
    const warn = (message: string): never => {
      throw new Error(message);
    };
    const taken = await consumeSpool({ dir, lockMs: 2_000, warn, recorded: (one, name) => recorded.push(`${name} ${one.sessionId}`), stop: () => recorded.length === 2 });
    expect(taken).toBe(2);
    expect(recorded).toEqual(['100-5 s0', '101-5 s1']);
    expect(pendingSpool(spool)).toEqual(['102-5']);
    expect(await consumeSpool({ dir, lockMs: 2_000, warn, recorded: (one, name) => recorded.push(`${name} ${one.sessionId}`) })).toBe(1);
    expect(pendingSpool(spool)).toEqual([]);
    expect((await readdir(dir)).filter((name) => name.endsWith('.agent.main.json')).sort()).toEqual(['s0.agent.main.json', 's1.agent.main.json', 's2.agent.main.json']);
  });

  it('reads who ran the hook from the header and the payload up to its closing brace', () => {
    const payload = JSON.stringify({ session_id: 's', hook_event_name: 'Stop', text: 'a "quoted" } brace' });
    const entry = parseSpoolFile(Buffer.from(`${header(FIELDS)}${payload}\ntrailing`));
    expect(entry.payload).toBe(payload);
    expect(entry.origin).toMatchObject({ agent: 'codex', agentProcess: { pid: 4242, start: 777 }, parentPid: 4243, mamSession: 'w-creator-codex', registry: '/r.yaml', pane: { socket: '/tmp/tmux-1/default', id: '%3' } });
    // No start time (the agent could not be read): the hook's parent, as `mam hook` takes it; no tmux, no mam session.
    const bare = parseSpoolFile(Buffer.from(`${header({ ...FIELDS, start: '', MAM_SESSION: '', MAM_REGISTRY: '', TMUX: '', TMUX_PANE: '' })}{"session_id":"s"}`));
    expect(bare.origin).toMatchObject({ agentProcess: undefined, parentPid: 4243, mamSession: null, registry: undefined, pane: null });
  });

  it('refuses what it cannot record, saying why', () => {
    expect(() => parseSpoolFile(Buffer.from('{"session_id":"s"}'))).toThrow(/no header/);
    expect(() => parseSpoolFile(Buffer.from('mam-hook-spool 9\0agent=x\0\0{}'))).toThrow(/not in a format this mam reads/);
    expect(() => parseSpoolFile(Buffer.from(`${header(FIELDS)}`))).toThrow(/payload is empty/);
    expect(() => parseSpoolFile(Buffer.from(`${header(FIELDS)}[1,2]`))).toThrow(/not a JSON object/);
    expect(() => parseSpoolFile(Buffer.from(`${header(FIELDS)}{"session_id":"s","x":"cut sh`))).toThrow(/truncated/);
  });
});
