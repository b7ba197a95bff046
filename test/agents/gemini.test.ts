import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArtifactFs } from '../../src/agents/fs.js';
import { gemini } from '../../src/agents/gemini.js';
import { artifactRoots } from '../../src/agents/index.js';
import type { ArtifactQuery } from '../../src/agents/types.js';

const SID = '3b4a1d20-3968-4ed2-90b3-00eea3060b02';
/** Same first eight characters as SID: only the id inside the file tells them apart. */
const TWIN = '3b4a1d20-0000-4000-8000-000000000002';
const SID2 = 'c0ffee00-1111-4222-8333-444455556666';

let home: string;
let workspace: string;
let query: ArtifactQuery;

beforeEach(async () => {
  home = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-gemini-')));
  workspace = path.join(home, 'work', 'My Proj');
  await mkdir(workspace, { recursive: true });
  query = { roots: artifactRoots({}, home), fs: new ArtifactFs() };
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const geminiRoot = (): string => path.join(home, '.gemini');
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

async function registerProjects(projects: Record<string, string> | string): Promise<void> {
  await mkdir(geminiRoot(), { recursive: true });
  const text = typeof projects === 'string' ? projects : JSON.stringify({ projects });
  await writeFile(path.join(geminiRoot(), 'projects.json'), text);
}

const metadata = (sessionId: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    sessionId,
    projectHash: sha256(workspace),
    startTime: '2026-08-01T10:00:00.000Z',
    lastUpdated: '2026-08-01T10:05:00.000Z',
    kind: 'main',
    ...extra,
  });

const message = JSON.stringify({ id: 'm1', timestamp: '2026-08-01T10:00:01.000Z', type: 'user', content: [{ text: 'hi' }] });

interface ChatOptions {
  readonly content?: string | Buffer;
  readonly mtime?: Date;
  readonly name?: string;
}

/** Writes `tmp/<projectId>/chats/session-…-<id8>.jsonl` (docs/agents.md, 'Gemini CLI') and returns its path. */
async function chat(projectId: string, sessionId: string, options: ChatOptions = {}): Promise<string> {
  const chats = path.join(geminiRoot(), 'tmp', projectId, 'chats');
  await mkdir(chats, { recursive: true });
  const file = path.join(chats, options.name ?? `session-2026-08-01T10-00-${sessionId.slice(0, 8)}.jsonl`);
  await writeFile(file, options.content ?? `${metadata(sessionId)}\n${message}\n`);
  if (options.mtime) await utimes(file, options.mtime, options.mtime);
  return file;
}

const ids = async (sinceMs?: number): Promise<string[]> => (await gemini.conversations(workspace, query, sinceMs)).map((c) => c.id);

describe('gemini.conversations', () => {
  it('finds chats in the slug directory projects.json registers, newest first', async () => {
    await registerProjects({ [workspace]: 'my-proj', [path.join(home, 'other', 'my proj')]: 'my-proj-1' });
    const older = await chat('my-proj', SID, { mtime: new Date('2026-08-01T10:00:00Z') });
    const newer = await chat('my-proj', SID2, { mtime: new Date('2026-08-02T10:00:00Z') });
    await chat('my-proj-1', 'dddddddd-1111-4222-8333-444455556666');
    const found = await gemini.conversations(workspace, query);
    expect(found.map((c) => [c.id, c.path])).toEqual([
      [SID2, newer],
      [SID, older],
    ]);
    expect(found[1]?.startedMs).toBe(Date.parse('2026-08-01T10:00:00.000Z'));
  });

  it('matches projects.json keys canonically (workspace reached through a symlink)', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    await chat('my-proj', SID);
    const link = path.join(home, 'link');
    await symlink(workspace, link);
    expect((await gemini.conversations(link, query)).map((c) => c.id)).toEqual([SID]);
  });

  it('reads the legacy sha256 directory and legacy .json ConversationRecord chats', async () => {
    const legacy = await chat(sha256(workspace), SID, {
      name: `session-2026-01-01T00-00-${SID.slice(0, 8)}.json`,
      content: JSON.stringify(
        { sessionId: SID, projectHash: sha256(workspace), startTime: '2026-01-01T00:00:00.000Z', lastUpdated: '2026-01-01T00:01:00.000Z', messages: [] },
        null,
        2,
      ),
    });
    const found = await gemini.conversations(workspace, query);
    expect(found).toMatchObject([{ id: SID, path: legacy, startedMs: Date.parse('2026-01-01T00:00:00.000Z') }]);
    expect(await gemini.locate(SID, workspace, query)).toBe(legacy);
  });

  it('ignores subagent chats, in their directory or marked kind:subagent', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    await chat('my-proj', SID);
    const sub = path.join(geminiRoot(), 'tmp', 'my-proj', 'chats', SID);
    await mkdir(sub, { recursive: true });
    await writeFile(path.join(sub, `${SID2}.jsonl`), `${metadata(SID2, { kind: 'subagent' })}\n`);
    await writeFile(path.join(sub, `session-2026-08-01T10-00-${SID2.slice(0, 8)}.jsonl`), `${metadata(SID2)}\n`);
    await chat('my-proj', 'eeeeeeee-1111-4222-8333-444455556666', {
      content: `${metadata('eeeeeeee-1111-4222-8333-444455556666', { kind: 'subagent' })}\n`,
    });
    expect(await ids()).toEqual([SID]);
  });

  it('skips empty and torn chats, and survives bytes that are not UTF-8', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    await chat('my-proj', 'aaaaaaa1-0000-4000-8000-000000000000', { content: '' });
    await chat('my-proj', 'aaaaaaa2-0000-4000-8000-000000000000', { content: metadata('aaaaaaa2-0000-4000-8000-000000000000').slice(0, 50) });
    const [before, after] = metadata(SID, { summary: 'XX' }).split('XX');
    await chat('my-proj', SID, {
      content: Buffer.concat([Buffer.from(before ?? ''), Buffer.from([0xff, 0xfe]), Buffer.from(`${after ?? ''}\n`), Buffer.from([0xc3, 0x0a])]),
    });
    // A complete metadata line followed by a torn message still counts.
    await chat('my-proj', SID2, { content: `${metadata(SID2)}\n${message.slice(0, 30)}` });
    expect((await ids()).sort()).toEqual([SID, SID2].sort());
  });

  it('skips chats older than sinceMs', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    await chat('my-proj', SID, { mtime: new Date('2026-01-01T00:00:00Z') });
    await chat('my-proj', SID2, { mtime: new Date('2026-03-01T00:00:00Z') });
    expect(await ids(Date.parse('2026-02-01T00:00:00Z'))).toEqual([SID2]);
    expect(await ids()).toHaveLength(2);
  });

  it('survives a malformed projects.json with no result, and rejects slugs that are not one path segment', async () => {
    await chat('my-proj', SID);
    await registerProjects('{"projects":{');
    await expect(ids()).resolves.toEqual([]);
    await registerProjects('["not", "an", "object"]');
    await expect(ids()).resolves.toEqual([]);
    // `..` would climb out of tmp/; the chat it would reach is not the workspace's.
    await chat(path.join('..', '..', 'escape'), SID2);
    await registerProjects({ [workspace]: '../../escape' });
    await expect(ids()).resolves.toEqual([]);
  });

  it('returns nothing, without throwing, when ~/.gemini does not exist', async () => {
    await expect(ids()).resolves.toEqual([]);
    await expect(gemini.locate(SID, workspace, query)).resolves.toBeNull();
  });
});

describe('gemini.locate', () => {
  it('verifies the sessionId inside, not just the eight characters in the name', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    const first = await chat('my-proj', SID, { name: `session-2026-08-01T10-00-${SID.slice(0, 8)}.jsonl` });
    const twin = await chat('my-proj', TWIN, { name: `session-2026-08-01T11-30-${TWIN.slice(0, 8)}.jsonl` });
    expect(await gemini.locate(SID, workspace, query)).toBe(first);
    expect(await gemini.locate(TWIN, workspace, query)).toBe(twin);
    expect(await gemini.locate('3b4a1d20-ffff-4fff-8fff-ffffffffffff', workspace, query)).toBeNull();
  });

  it('finds a chat in another project directory (workspace moved or re-registered)', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    const elsewhere = await chat('old-name', SID2);
    expect(await ids()).toEqual([]);
    expect(await gemini.locate(SID2, workspace, query)).toBe(elsewhere);
  });

  it('refuses a hostile id without touching the filesystem', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    await chat('my-proj', SID);
    const fs = new ArtifactFs();
    const spies = [vi.spyOn(fs, 'stat'), vi.spyOn(fs, 'list'), vi.spyOn(fs, 'readJson'), vi.spyOn(fs, 'jsonlHead')];
    for (const hostile of ['../x', '..', `${SID}/../x`]) {
      expect(await gemini.locate(hostile, workspace, { roots: query.roots, fs })).toBeNull();
    }
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});

describe('gemini identity', () => {
  it('has its id, registry field, artifact root and pane command', () => {
    expect(gemini.id).toBe('gemini');
    expect(gemini.conversationIdField).toBe('gemini_session_id_own');
    expect(gemini.artifactRoot(query.roots)).toBe(path.join(home, '.gemini', 'tmp'));
    expect(gemini.matchesPaneCommand('gemini')).toBe(true);
    expect(gemini.matchesPaneCommand('node')).toBe(false);
  });
});

describe('gemini: several chat files of one session (0.61 starts one on every --resume)', () => {
  /** What `gemini --resume` leaves in a later minute: the session's metadata and its opening context, nothing more. */
  const resumeStub = (sessionId: string): Promise<string> =>
    chat('my-proj', sessionId, { name: `session-2026-08-01T11-47-${sessionId.slice(0, 8)}.jsonl`, content: `${metadata(sessionId, { startTime: '2026-08-01T11:47:00.000Z' })}\n`, mtime: new Date('2026-08-01T11:47:00Z') });

  it('lists the session once, locates its newest file, and purges every file of it and its subagents', async () => {
    await registerProjects({ [workspace]: 'my-proj' });
    const original = await chat('my-proj', SID, { mtime: new Date('2026-08-01T12:00:00Z') });
    const stub = await resumeStub(SID);
    // Another session whose id starts with the same eight characters.
    const other = await chat('my-proj', TWIN, { name: `session-2026-08-01T09-15-${TWIN.slice(0, 8)}.jsonl`, mtime: new Date('2026-08-01T09:15:00Z') });
    const subagents = path.join(path.dirname(original), SID);
    await mkdir(subagents, { recursive: true });
    await writeFile(path.join(subagents, 'c0ffee00-0000-4000-8000-000000000009.jsonl'), metadata('c0ffee00-0000-4000-8000-000000000009', { kind: 'subagent' }));

    expect(await gemini.conversations(workspace, query)).toEqual([
      expect.objectContaining({ id: SID, path: original }),
      expect.objectContaining({ id: TWIN, path: other }),
    ]);
    // The chat the conversation goes on in is the newest one written to.
    expect(await gemini.locate(SID, workspace, query)).toBe(original);
    expect((await gemini.purgePaths(SID, workspace, query)).sort()).toEqual([original, stub, subagents].sort());
    expect(await gemini.purgePaths(TWIN, workspace, query)).toEqual([other]);
    expect(await gemini.purgePaths(SID2, workspace, query)).toEqual([]);
  });
});

describe('gemini launch and files', () => {
  it('keeps its files under GEMINI_CLI_HOME when that is set, as Gemini CLI does', () => {
    expect(gemini.filesDir({}, '/h')).toBe('/h/.gemini');
    expect(gemini.filesDir({ GEMINI_CLI_HOME: '/g' }, '/h')).toBe('/g/.gemini');
    expect(gemini.filesDir({ GEMINI_CLI_HOME: '' }, '/h')).toBe('/h/.gemini');
  });

  it('stops with Ctrl-C twice, resumes with --resume <id>, and knows 0.61\'s words for a session it cannot find', () => {
    expect(gemini.exitKeys).toEqual([{ key: 'C-c' }, { key: 'C-c' }]);
    expect(gemini.resumeArgs(SID)).toEqual(['--resume', SID]);
    expect(gemini.conversationGone?.test('Error resuming session: Invalid session identifier "00000000-1111-4222-8333-444444444444".')).toBe(true);
    expect(gemini.readyPattern?.test(' >   Type your message or @path/to/file')).toBe(true);
  });
});
