import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { monitorEachTest } from '../helpers/monitor-process.js';
import { until } from '../helpers/until.js';

const world = monitorEachTest();

describe('mam monitor retention', () => {
  it('with --retention prunes ended sessions at its first pass, says so once, and leaves running ones', async () => {
    const server = world.box.serverName('prune');
    await world.box.writeRegistry(
      `tmux_sessions:\n` +
        `  - {name: old-creator-claude, agent: claude, workspace: /w, status: terminated, terminated_at: 2026-01-01T00:00:00Z}\n` +
        `  - {name: alive-creator-claude, agent: claude, workspace: ${world.box.root}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`,
    );
    await world.box.startSession(server, 'alive-creator-claude', world.box.root);
    const monitor = world.start(['--registry', world.box.registry, '--tmux-server', server, '--interval', '0.2', '--retention', '1h']);
    const { output, exited } = monitor;

    const history = world.box.registry.replace(/\.yaml$/, '.history.jsonl');
    await until(() => output().includes(`pruned 1 ended session older than 1h into ${history}`), 'the prune comment', 60_000);
    // More passes go by without another prune: once a day.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    monitor.process.stdin.write('stop\n');
    expect(await exited).toBe(0);
    expect(output().split('pruned 1 ended session').length - 1).toBe(1);
    expect(parseRegistry(world.box.registry, await readFile(world.box.registry, 'utf8')).entries.map((entry) => entry.name)).toEqual(['alive-creator-claude']);
    expect(JSON.parse((await readFile(history, 'utf8')).trim())).toMatchObject({ action: 'prune', entry: { name: 'old-creator-claude' } });
  });
});
