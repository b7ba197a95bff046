import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { emitted, mam, Sandbox, type MamResult } from '../helpers/sandbox.js';

/**
 * Issue 13.4 end to end on real tmux (a private socket): a session mam starts keeps its pane when the agent dies, so
 * the next pass records why it died — exit status and last screen — says so in class A, and then closes the session.
 * Until then the dead session counts as gone for `mam status`, `mam stop` and `mam resume`.
 */

let box: Sandbox;
let server: string;
let ws: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-agent-exit-');
  server = box.serverName('exit');
  ws = path.join(box.home, 'w');
  await mkdir(ws, { recursive: true });
});

afterEach(async () => {
  await box.dispose();
});

function run(args: readonly string[]): Promise<MamResult> {
  return mam(args, box.env({ MAM_TMUX_SERVER: server, MAM_REGISTRY: box.registry }));
}

function entryOf(name: string): RegistryEntry {
  const found = parseRegistry(box.registry, readFileSync(box.registry, 'utf8')).entries.find((entry) => entry.name === name);
  if (!found) throw new Error(`${name} is not in the registry:\n${readFileSync(box.registry, 'utf8')}`);
  return found;
}

async function hasSession(name: string): Promise<boolean> {
  return box.tmux(server, 'has-session', '-t', `=${name}`).then(() => true, () => false);
}

async function paneDead(name: string): Promise<boolean> {
  return (await box.tmux(server, 'display-message', '-p', '-t', `=${name}:`, '#{pane_dead}').catch(() => '')).trim() === '1';
}

/** An agent that prints a marker line, waits for one line of input, and exits with `status`. */
async function createDying(name: string, status: number): Promise<void> {
  const created = await run(['create', '--agent', 'bash', '--workspace', ws, '--name', name, '--', '-c', `echo marker-${name}-said-this; read line; exit ${status}`]);
  expect(created.code, created.stderr).toBe(0);
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, 'Enter');
  expect(await waitFor(() => paneDead(name), 30_000, 50), `${name}'s agent to exit`).toBe(true);
}

describe('why an agent died (issue 13.4)', () => {
  it('exit 3: status shows it gone; a pass marks it terminated with exit_status 3 and its last line, says so, and closes the session', async () => {
    await createDying('d3', 3);
    // Kept, dead: alive for tmux, gone for mam.
    expect(await hasSession('d3')).toBe(true);
    const status = await run(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(status.stdout))).toMatch(/"name":"d3".*?"tmux":"gone"/);

    // The pass waits out create's grace window (a user's action wins for 5 s); each pass before it changes nothing.
    let drift: Record<string, unknown> | undefined;
    const found = await waitFor(async () => {
      const result = await run(['reconcile', '--once', '--emit-diff']);
      drift = emitted(result).drifts.find((candidate) => candidate['class'] === 'A' && candidate['session'] === 'd3');
      return drift !== undefined;
    }, 60_000, 500);
    expect(found, 'a class A drift for d3').toBe(true);
    expect(drift!['message']).toMatch(/^d3: agent exited with status 3 \(was pane \d+, cmd bash\)\. Marked terminated\.$/);
    expect(drift).toMatchObject({ exit_status: 3, last_lines: ['marker-d3-said-this'] });
    const entry = entryOf('d3');
    expect(entry).toMatchObject({ status: 'terminated', termination_mode: 'auto-detected', exit_status: 3 });
    expect(entry.last_visible_status).toContain('marker-d3-said-this');
    expect(await hasSession('d3')).toBe(false);

    // Idempotent: the next pass has nothing more to say.
    const again = emitted(await run(['reconcile', '--once', '--emit-diff']));
    expect(again.drifts).toEqual([]);
    expect(again.written).toBe(false);
  });

  it('stop of a session whose agent already died closes it and records the exit; resume starts it again', async () => {
    await createDying('d5', 5);
    const stop = await run(['stop', '--session', 'd5']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe('stopped d5 (already-gone)');
    expect(entryOf('d5')).toMatchObject({ status: 'stopped', termination_mode: 'auto-detected', exit_status: 5, stop_rung: null });
    expect(entryOf('d5').last_visible_status).toContain('marker-d5-said-this');
    expect(await hasSession('d5')).toBe(false);

    // A dead session left in place (an agent that died while running) does not block resume either.
    await run(['delete', '--session', 'd5']);
    await createDying('d6', 6);
    const resumed = await run(['resume', '--session', 'd6']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(entryOf('d6')).toMatchObject({ status: 'running' });
    expect(await paneDead('d6')).toBe(false);
  });
});
