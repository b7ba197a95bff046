import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { agy } from '../../src/agents/agy.js';
import { ArtifactFs } from '../../src/agents/fs.js';
import { artifactRoots } from '../../src/agents/index.js';
import type { ArtifactQuery } from '../../src/agents/types.js';

const ID = '3b4a1d20-3968-4ed2-90b3-00eea3060b02';
const OTHER = '9f1e2d3c-4b5a-4968-8776-655443322110';

let home: string;
let workspace: string;
let query: ArtifactQuery;

beforeEach(async () => {
  home = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-agy-')));
  workspace = path.join(home, 'work', 'x');
  await mkdir(workspace, { recursive: true });
  query = { roots: artifactRoots({}, home), fs: new ArtifactFs() };
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const agyRoot = (): string => path.join(home, '.gemini', 'antigravity-cli');

async function lastConversations(content: Record<string, string> | string): Promise<void> {
  await mkdir(path.join(agyRoot(), 'cache'), { recursive: true });
  await writeFile(path.join(agyRoot(), 'cache', 'last_conversations.json'), typeof content === 'string' ? content : JSON.stringify(content));
}

/** An opaque conversation file (never opened by mam, so its bytes do not matter). */
async function conversationFile(name: string, mtime?: Date): Promise<string> {
  const directory = path.join(agyRoot(), 'conversations');
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, name);
  await writeFile(file, 'SQLite format 3\0');
  if (mtime) await utimes(file, mtime, mtime);
  return file;
}

describe('agy.conversations', () => {
  it("returns the workspace's last conversation when its database exists", async () => {
    await lastConversations({ [workspace]: ID, [path.join(home, 'work', 'y')]: OTHER });
    const db = await conversationFile(`${ID}.db`, new Date('2026-07-01T00:00:00Z'));
    await conversationFile(`${OTHER}.db`);
    expect(await agy.conversations(workspace, query)).toEqual([
      { id: ID, path: db, modifiedMs: Date.parse('2026-07-01T00:00:00Z'), startedMs: undefined },
    ]);
  });

  it('takes the modification time from the WAL when it is newer', async () => {
    await lastConversations({ [workspace]: ID });
    await conversationFile(`${ID}.db`, new Date('2026-07-01T00:00:00Z'));
    await conversationFile(`${ID}.db-wal`, new Date('2026-07-02T00:00:00Z'));
    expect((await agy.conversations(workspace, query))[0]?.modifiedMs).toBe(Date.parse('2026-07-02T00:00:00Z'));
  });

  it('accepts the legacy .pb file', async () => {
    await lastConversations({ [workspace]: ID });
    const pb = await conversationFile(`${ID}.pb`);
    expect(await agy.conversations(workspace, query)).toMatchObject([{ id: ID, path: pb }]);
    expect(await agy.locate(ID, workspace, query)).toBe(pb);
  });

  it('returns nothing when the recorded conversation has no file, or the cwd is another', async () => {
    await lastConversations({ [workspace]: ID, [path.join(home, 'work', 'y')]: OTHER });
    await conversationFile(`${OTHER}.db`);
    expect(await agy.conversations(workspace, query)).toEqual([]);
    expect(await agy.conversations(path.join(home, 'work', 'y'), query)).toMatchObject([{ id: OTHER }]);
  });

  it('matches the recorded cwd canonically', async () => {
    await lastConversations({ [workspace]: ID });
    await conversationFile(`${ID}.db`);
    const link = path.join(home, 'link');
    await symlink(workspace, link);
    expect(await agy.conversations(link, query)).toMatchObject([{ id: ID }]);
  });

  it('skips a conversation older than sinceMs', async () => {
    await lastConversations({ [workspace]: ID });
    await conversationFile(`${ID}.db`, new Date('2026-01-01T00:00:00Z'));
    expect(await agy.conversations(workspace, query, Date.parse('2026-02-01T00:00:00Z'))).toEqual([]);
    expect(await agy.conversations(workspace, query, Date.parse('2025-12-01T00:00:00Z'))).toHaveLength(1);
  });

  it('survives malformed or non-object last_conversations.json with no result', async () => {
    await conversationFile(`${ID}.db`);
    for (const content of ['{"' + workspace, '[]', 'null', JSON.stringify({ [workspace]: 42 })]) {
      await lastConversations(content);
      await expect(agy.conversations(workspace, { roots: query.roots, fs: new ArtifactFs() })).resolves.toEqual([]);
    }
  });

  it('ignores a recorded id that is not a plain file name', async () => {
    // `../x` from conversations/ would reach this file.
    await mkdir(agyRoot(), { recursive: true });
    await writeFile(path.join(agyRoot(), 'x.db'), '');
    await lastConversations({ [workspace]: '../x' });
    expect(await agy.conversations(workspace, query)).toEqual([]);
  });

  it('returns nothing, without throwing, when the agy root does not exist', async () => {
    await expect(agy.conversations(workspace, query)).resolves.toEqual([]);
    await expect(agy.locate(ID, workspace, query)).resolves.toBeNull();
  });
});

describe('agy.locate', () => {
  it('finds the .db file and misses an unknown id', async () => {
    const db = await conversationFile(`${ID}.db`);
    expect(await agy.locate(ID, workspace, query)).toBe(db);
    expect(await agy.locate(OTHER, workspace, query)).toBeNull();
  });

  it('refuses a hostile id without touching the filesystem', async () => {
    await mkdir(agyRoot(), { recursive: true });
    await writeFile(path.join(agyRoot(), 'x.db'), '');
    const fs = new ArtifactFs();
    const spies = [vi.spyOn(fs, 'stat'), vi.spyOn(fs, 'list'), vi.spyOn(fs, 'exists'), vi.spyOn(fs, 'readJson')];
    for (const hostile of ['../x', '..', `${ID}/../../x`]) {
      expect(await agy.locate(hostile, workspace, { roots: query.roots, fs })).toBeNull();
    }
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});

describe('agy identity', () => {
  it('has its id, registry field, artifact root and pane command', () => {
    expect(agy.id).toBe('agy');
    expect(agy.conversationIdField).toBe('agy_conversation_id_own');
    expect(agy.artifactRoot(query.roots)).toBe(path.join(agyRoot(), 'conversations'));
    expect(agy.matchesPaneCommand('agy')).toBe(true);
    expect(agy.matchesPaneCommand('gemini')).toBe(false);
  });
});
