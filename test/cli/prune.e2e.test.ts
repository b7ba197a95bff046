import { readFile, stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { mam, Sandbox } from '../helpers/sandbox.js';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create();
});
afterEach(async () => {
  await box.dispose();
});

const old = new Date(Date.now() - 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
const recent = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');

const REGISTRY = `# my agents — hand-edited
tmux_sessions:
  - name: live-creator-claude     # keep me
    agent: claude
    workspace: /w/live
    status: running
    created_at: ${old}
  # ended long ago
  - name: gone-creator-claude
    agent: claude
    workspace: /w/gone
    status: terminated
    terminated_at: ${old}
    termination_mode: auto-detected
  - {name: final-creator-codex, agent: codex, workspace: /w/final, status: stopped, stopped_at: ${old}, resumable: false}
  - {name: resumable-creator-codex, agent: codex, workspace: /w/res, status: stopped, stopped_at: ${old}, resumable: true}
  - {name: recent-creator-claude, agent: claude, workspace: /w/recent, status: terminated, terminated_at: ${recent}}
  - {name: undated-creator-claude, agent: claude, workspace: /w/undated, status: terminated}
`;

const history = () => box.registry.replace(/\.yaml$/, '.history.jsonl');

describe('mam prune', () => {
  it('--dry-run --json lists what would go and writes nothing', async () => {
    await box.writeRegistry(REGISTRY);
    const before = await stat(box.registry);
    const result = await mam(['prune', '--dry-run', '--json', '--registry', box.registry], box.env());
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { dry_run: boolean; pruned: { name: string }[]; kept: number; history: string };
    expect(report.dry_run).toBe(true);
    expect(report.pruned.map((row) => row.name)).toEqual(['gone-creator-claude', 'final-creator-codex']);
    expect(report.kept).toBe(4);
    expect(report.history).toBe(history());
    expect(await readFile(box.registry, 'utf8')).toBe(REGISTRY);
    expect((await stat(box.registry)).mtimeMs).toBe(before.mtimeMs);
    await expect(stat(history())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('moves them into the history file as delete does (action: prune), keeps the rest as written; a second run moves nothing', async () => {
    await box.writeRegistry(REGISTRY);
    const result = await mam(['prune', '--registry', box.registry], box.env());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`pruned 2 ended sessions into ${history()}`);

    const text = await readFile(box.registry, 'utf8');
    expect(parseRegistry(box.registry, text).entries.map((entry) => entry.name)).toEqual([
      'live-creator-claude',
      'resumable-creator-codex',
      'recent-creator-claude',
      'undated-creator-claude',
    ]);
    expect(text).toContain('# my agents — hand-edited');
    expect(text).toContain('name: live-creator-claude # keep me');
    const lines = (await readFile(history(), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { at: string; action: string; entry: { name: string; status: string } });
    expect(lines.map((line) => [line.action, line.entry.name, line.entry.status])).toEqual([
      ['prune', 'gone-creator-claude', 'terminated'],
      ['prune', 'final-creator-codex', 'stopped'],
    ]);
    expect(Number.isNaN(Date.parse(lines[0]!.at))).toBe(false);

    const again = await mam(['prune', '--json', '--registry', box.registry], box.env());
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { pruned: unknown[] }).pruned).toEqual([]);
    expect(await readFile(box.registry, 'utf8')).toBe(text);
    expect((await readFile(history(), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('--older-than bounds it; a bad duration is a usage error naming the flag', async () => {
    await box.writeRegistry(REGISTRY);
    const wide = await mam(['prune', '--dry-run', '--json', '--older-than', '1m', '--registry', box.registry], box.env());
    expect((JSON.parse(wide.stdout) as { pruned: { name: string }[] }).pruned.map((row) => row.name)).toEqual(['gone-creator-claude', 'final-creator-codex', 'recent-creator-claude']);
    const bad = await mam(['prune', '--older-than', 'soon', '--registry', box.registry], box.env());
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--older-than takes a duration/);
    const help = await mam(['prune', '--help'], box.env());
    expect(help.stdout).toMatch(/^Usage: mam prune/);
  });
});
