import { mkdir, mkdtemp, realpath, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { claude, claudeProjectKey } from '../../src/agents/claude.js';
import { ArtifactFs } from '../../src/agents/fs.js';
import { artifactRoots } from '../../src/agents/index.js';
import type { ArtifactQuery } from '../../src/agents/types.js';

const SID = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';
const SID2 = '4e432142-3b8e-4dad-8bee-4193e7fec8e1';

let home: string;
let query: ArtifactQuery;

beforeEach(async () => {
  home = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-claude-')));
  query = { roots: artifactRoots({}, home), fs: new ArtifactFs() };
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const projects = (): string => path.join(home, '.claude', 'projects');

/** A transcript line in Claude's envelope (docs/agents.md, 'Claude transcripts'). */
function userLine(cwd: string, sessionId: string, timestamp = '2026-08-01T10:00:00.000Z'): string {
  return JSON.stringify({
    parentUuid: null,
    isSidechain: false,
    userType: 'external',
    cwd,
    sessionId,
    version: '2.1.220',
    type: 'user',
    message: { role: 'user', content: 'run the tests' },
    uuid: 'u-01',
    timestamp,
  });
}

async function writeRaw(directory: string, name: string, content: string | Buffer, mtime?: Date): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, name);
  await writeFile(file, content);
  if (mtime) await utimes(file, mtime, mtime);
  return file;
}

async function transcript(key: string, sessionId: string, cwd: string, mtime?: Date): Promise<string> {
  return writeRaw(path.join(projects(), key), `${sessionId}.jsonl`, `${userLine(cwd, sessionId)}\n`, mtime);
}

describe('claudeProjectKey (the test vectors of docs/agents.md)', () => {
  it.each([
    ['/home/u/x', '-home-u-x'],
    ['/home/u/my_proj.v2', '-home-u-my-proj-v2'],
    ['/Users/me/.agents', '-Users-me--agents'],
    ['/Users/me/src/github.com/org/repo', '-Users-me-src-github-com-org-repo'],
    ['/home/u/café', '-home-u-caf-'],
    ['/home/u/a b~c', '-home-u-a-b-c'],
    ['/home/u/🚀x', '-home-u---x'],
    ['C:\\git\\cc-plus', 'C--git-cc-plus'],
  ])('%s → %s', (cwd, key) => {
    expect(claudeProjectKey(cwd)).toBe(key);
  });

  it('keeps 200 characters plus the documented djb2 suffix for the 237-character path', () => {
    const cwd = `/home/u/${'deep/'.repeat(45)}proj`;
    expect(cwd).toHaveLength(237);
    const key = claudeProjectKey(cwd);
    expect(key).toBe(`-home-u-${'deep-'.repeat(38)}de-szbxz9`);
    expect(key).toHaveLength(207);
  });
});

describe('claude.conversations', () => {
  it('finds a transcript by key, with the session id from the file name when the first lines carry none', async () => {
    const workspace = path.join(home, 'x');
    await mkdir(workspace);
    const lines = [
      JSON.stringify({ type: 'summary', summary: 'Fix flaky auth test', leafUuid: 'a-02' }),
      JSON.stringify({ type: 'file-history-snapshot', messageId: 'u-01', snapshot: { messageId: 'u-01', trackedFileBackups: {} }, isSnapshotUpdate: false }),
      userLine(workspace, SID, '2026-08-01T10:00:00.000Z'),
    ];
    const file = await writeRaw(path.join(projects(), claudeProjectKey(workspace)), `${SID}.jsonl`, `${lines.join('\n')}\n`);
    const found = await claude.conversations(workspace, query);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ id: SID, path: file, startedMs: Date.parse('2026-08-01T10:00:00.000Z') });
    expect(found[0]?.livePid).toBeUndefined();
  });

  it('lists newest first by mtime', async () => {
    const workspace = path.join(home, 'x');
    const key = claudeProjectKey(workspace);
    await transcript(key, SID, workspace, new Date('2026-01-01T00:00:00Z'));
    await transcript(key, SID2, workspace, new Date('2026-02-01T00:00:00Z'));
    expect((await claude.conversations(workspace, query)).map((c) => c.id)).toEqual([SID2, SID]);
  });

  it('resolves the my-app / my_app key collision by the cwd inside', async () => {
    const dash = path.join(home, 'my-app');
    const underscore = path.join(home, 'my_app');
    await mkdir(dash);
    await mkdir(underscore);
    expect(claudeProjectKey(dash)).toBe(claudeProjectKey(underscore));
    await transcript(claudeProjectKey(dash), SID, dash);
    await transcript(claudeProjectKey(underscore), SID2, underscore);
    expect((await claude.conversations(dash, query)).map((c) => c.id)).toEqual([SID]);
    expect((await claude.conversations(underscore, query)).map((c) => c.id)).toEqual([SID2]);
  });

  it('matches a long key by prefix when the hash suffix differs, choosing between shared prefixes by cwd', async () => {
    const base = path.join(home, 'deep/'.repeat(45));
    const workspace = `${base}proj`;
    const sibling = `${base}other`;
    const prefix = claudeProjectKey(workspace).slice(0, 200);
    expect(claudeProjectKey(sibling).slice(0, 200)).toBe(prefix);
    // The CLI names directories with Bun.hash, so neither suffix is the djb2 one we compute.
    const mine = await transcript(`${prefix}-1a2b3c4`, SID, workspace);
    const theirs = await transcript(`${prefix}-zz9yy8`, SID2, sibling);
    expect(await claude.conversations(workspace, query)).toMatchObject([{ id: SID, path: mine }]);
    expect(await claude.conversations(sibling, query)).toMatchObject([{ id: SID2, path: theirs }]);
    expect(await claude.locate(SID, workspace, query)).toBe(mine);
  });

  it('finds an NFD-spelled workspace under its NFC key', async () => {
    const nfc = path.join(home, 'café');
    const nfd = nfc.normalize('NFD');
    expect(nfd).not.toBe(nfc);
    await transcript(claudeProjectKey(nfc), SID, nfc);
    expect((await claude.conversations(nfd, query)).map((c) => c.id)).toEqual([SID]);
  });

  it('ignores an empty file and a file holding only a torn line, but reads one with a torn last line', async () => {
    const workspace = path.join(home, 'x');
    const directory = path.join(projects(), claudeProjectKey(workspace));
    await writeRaw(directory, `${SID}.jsonl`, '');
    await writeRaw(directory, `${SID2}.jsonl`, userLine(workspace, SID2).slice(0, 80));
    const good = 'aaaaaaaa-0000-4000-8000-000000000001';
    await writeRaw(directory, `${good}.jsonl`, `${userLine(workspace, good)}\n${userLine('/elsewhere', good).slice(0, 60)}`);
    expect((await claude.conversations(workspace, query)).map((c) => c.id)).toEqual([good]);
  });

  it('survives bytes that are not UTF-8 and still takes the cwd from a good line', async () => {
    // my_app and my-app share a key, so only the cwd read from the good line tells them apart.
    const workspace = path.join(home, 'my_app');
    const other = path.join(home, 'my-app');
    const content = Buffer.concat([
      Buffer.from('{"type":"summary","summary":"caf'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('","leafUuid":"a"}\n'),
      Buffer.from([0x80, 0x81, 0x0a]),
      Buffer.from(`${userLine(workspace, SID)}\n`),
    ]);
    await writeRaw(path.join(projects(), claudeProjectKey(workspace)), `${SID}.jsonl`, content);
    expect((await claude.conversations(workspace, query)).map((c) => c.id)).toEqual([SID]);
    expect(await claude.conversations(other, query)).toEqual([]);
  });

  it('honours CLAUDE_CONFIG_DIR', async () => {
    const workspace = path.join(home, 'x');
    const config = path.join(home, 'custom-claude');
    await writeRaw(path.join(config, 'projects', claudeProjectKey(workspace)), `${SID}.jsonl`, `${userLine(workspace, SID)}\n`);
    const custom: ArtifactQuery = { roots: artifactRoots({ CLAUDE_CONFIG_DIR: config }, home), fs: new ArtifactFs() };
    expect(claude.artifactRoot(custom.roots)).toBe(path.join(config, 'projects'));
    expect((await claude.conversations(workspace, custom)).map((c) => c.id)).toEqual([SID]);
    expect(await claude.locate(SID, workspace, custom)).toBe(path.join(config, 'projects', claudeProjectKey(workspace), `${SID}.jsonl`));
    expect(await claude.conversations(workspace, query)).toEqual([]);
  });

  it('returns nothing, without throwing, when ~/.claude does not exist', async () => {
    await expect(claude.conversations(path.join(home, 'x'), query)).resolves.toEqual([]);
    await expect(claude.locate(SID, path.join(home, 'x'), query)).resolves.toBeNull();
  });

  it('takes livePid from sessions/<pid>.json', async () => {
    const workspace = path.join(home, 'x');
    const key = claudeProjectKey(workspace);
    await transcript(key, SID, workspace);
    await transcript(key, SID2, workspace);
    const sessions = path.join(home, '.claude', 'sessions');
    await writeRaw(sessions, '2226159.json', JSON.stringify({ pid: 2226159, sessionId: SID, cwd: workspace, status: 'busy' }));
    await writeRaw(sessions, 'junk.json', JSON.stringify({ pid: 1, sessionId: SID2 }));
    await writeRaw(sessions, '77.json', '{not json');
    const byId = new Map((await claude.conversations(workspace, query)).map((c) => [c.id, c.livePid]));
    expect(byId.get(SID)).toBe(2226159);
    expect(byId.has(SID2)).toBe(true);
    expect(byId.get(SID2)).toBeUndefined();
  });

  it('skips transcripts older than sinceMs', async () => {
    const workspace = path.join(home, 'x');
    const key = claudeProjectKey(workspace);
    await transcript(key, SID, workspace, new Date('2026-01-01T00:00:00Z'));
    await transcript(key, SID2, workspace, new Date('2026-03-01T00:00:00Z'));
    const since = Date.parse('2026-02-01T00:00:00Z');
    expect((await claude.conversations(workspace, query, since)).map((c) => c.id)).toEqual([SID2]);
    expect(await claude.conversations(workspace, query)).toHaveLength(2);
  });

  it('does not list subagent transcripts, in either layout', async () => {
    const workspace = path.join(home, 'x');
    const directory = path.join(projects(), claudeProjectKey(workspace));
    await transcript(claudeProjectKey(workspace), SID, workspace);
    await writeRaw(directory, 'agent-a1b2c3d4.jsonl', `${userLine(workspace, SID)}\n`);
    await writeRaw(path.join(directory, SID, 'subagents'), 'agent-af0b4a9aaa314d555.jsonl', `${userLine(workspace, SID)}\n`);
    expect((await claude.conversations(workspace, query)).map((c) => c.id)).toEqual([SID]);
  });
});

describe('claude.locate', () => {
  it('finds a transcript in the workspace key directory, and one moved to another project directory', async () => {
    const workspace = path.join(home, 'x');
    const own = await transcript(claudeProjectKey(workspace), SID, workspace);
    const moved = await transcript('-somewhere-else', SID2, '/somewhere/else');
    expect(await claude.locate(SID, workspace, query)).toBe(own);
    expect(await claude.locate(SID2, workspace, query)).toBe(moved);
    expect(await claude.locate('aaaaaaaa-0000-4000-8000-000000000009', workspace, query)).toBeNull();
  });

  it('refuses a hostile id without touching the filesystem', async () => {
    const workspace = path.join(home, 'x');
    // Where `../x` would lead from a project directory.
    await writeRaw(projects(), 'x.jsonl', `${userLine(workspace, 'x')}\n`);
    const fs = new ArtifactFs();
    const spies = [vi.spyOn(fs, 'stat'), vi.spyOn(fs, 'list'), vi.spyOn(fs, 'exists'), vi.spyOn(fs, 'canonicalPath')];
    expect(await claude.locate('../x', workspace, { roots: query.roots, fs })).toBeNull();
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});
