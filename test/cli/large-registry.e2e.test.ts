import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPassOptions } from '../../src/reconcile/pass-options.js';
import { lifecycleContext } from '../../src/lifecycle/context.js';
import { sessionStatus, statusTable } from '../../src/status/report.js';
import { runPass } from '../../src/reconcile/pass.js';
import { emitted, MAM, Sandbox, type MamResult } from '../helpers/sandbox.js';

/**
 * Issue 13: `status`, `reconcile` and the monitor's pass on a registry of 100,000 entries in the compact flow style
 * scripts write. No tmux server runs: every entry is terminated and the one server named is a private socket nobody
 * started, so reality matches and a pass must change nothing. The CLI runs with a V8 heap capped at 10× the file's
 * size: a pass that needed more would die of it, so passing proves the bound without timing anything.
 */
const N = 100_000;
const OLD = '2026-01-01T00:00:00Z';

let box: Sandbox;
let server: string;
let text: string;
let heapCapMb: number;
beforeAll(async () => {
  box = await Sandbox.create();
  server = box.serverName('none');
  const recent = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const lines = ['# generated: 100k ended sessions', 'tmux_sessions:'];
  for (let index = 0; index < N; index += 1) {
    // Half ended long ago (prunable at 7 days), half an hour ago.
    const ended = index % 2 === 0 ? OLD : recent;
    lines.push(
      `  - {name: s${index}, agent: claude, workspace: /w/p${index}, status: terminated, tmux_server: ${server}, pane: {pid: ${1000 + index}, cmd: claude, cwd: /w/p${index}}, ` +
        `start_command: claude, mcp_attachments: [], claude_session_id_own: null, last_visible_status: terminated, created_at: ${OLD}, terminated_at: ${ended}, termination_mode: auto-detected}`,
    );
  }
  text = `${lines.join('\n')}\n`;
  await box.writeRegistry(text);
  heapCapMb = Math.ceil((10 * Buffer.byteLength(text)) / 1e6);
}, 300_000);
afterAll(async () => {
  await box.dispose();
});

async function capped(args: readonly string[]): Promise<MamResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [`--max-old-space-size=${heapCapMb}`, MAM, ...args], {
      env: box.env(),
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
  }
}

describe('a registry of 100,000 entries', () => {
  it('mam reconcile --once: no crash, no drift, nothing written, within a heap of 10× the file', async () => {
    const before = await stat(box.registry);
    const result = await capped(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server]);
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const report = emitted(result);
    expect(report.written).toBe(false);
    expect(report.drifts).toEqual([]);
    expect(report.problems).toEqual([]);
    expect((await stat(box.registry)).mtimeMs).toBe(before.mtimeMs);
  }, 300_000);

  it('the monitor\'s pass (cached reader, twice) and mam status\'s report: no crash, nothing changed', async () => {
    const options = buildPassOptions({ registryFile: box.registry, tmuxServers: [server], dryRun: false, env: box.env() });
    for (let pass = 0; pass < 2; pass += 1) {
      const report = await runPass(options);
      expect(report).toMatchObject({ written: false, drifts: [], problems: [] });
    }
    const status = await sessionStatus(lifecycleContext({ registry: box.registry, env: box.env(), cwd: box.root, say: () => undefined }));
    expect(status.sessions).toHaveLength(N);
    expect(status.sessions.every((row) => row.tmux === 'gone')).toBe(true);
    expect(statusTable(status).split('\n').length).toBeGreaterThan(N);
    expect(await readFile(box.registry, 'utf8')).toBe(text);
  }, 300_000);

  it('mam prune moves the 50,000 old ones within the same heap bound, keeps the header comment, and a second run moves none', async () => {
    const first = await capped(['prune', '--json', '--registry', box.registry]);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ kept: N / 2 });
    expect((JSON.parse(first.stdout) as { pruned: unknown[] }).pruned).toHaveLength(N / 2);
    const after = await readFile(box.registry, 'utf8');
    expect(after.startsWith('# generated: 100k ended sessions\ntmux_sessions:\n  - {name: s1, ')).toBe(true);
    expect(after.split('\n').length).toBe(N / 2 + 3);
    const history = (await readFile(box.registry.replace(/\.yaml$/, '.history.jsonl'), 'utf8')).trim().split('\n');
    expect(history).toHaveLength(N / 2);

    const second = await capped(['prune', '--json', '--registry', box.registry]);
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    expect((JSON.parse(second.stdout) as { pruned: unknown[] }).pruned).toEqual([]);
    expect(await readFile(box.registry, 'utf8')).toBe(after);
  }, 300_000);
});
