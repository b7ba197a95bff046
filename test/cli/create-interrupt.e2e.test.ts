import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { emitted, mam, MAM, Sandbox } from '../helpers/sandbox.js';

/**
 * Issue 13.2 on real tmux (a private socket): `mam create` interrupted after its tmux session exists never leaves
 * that session unregistered. SIGINT/SIGTERM: create closes the session and removes its entry (or, past the point of
 * no return, finishes registering it) and exits 130/143. SIGKILL: its `starting` entry (written before the session)
 * stays, and the next pass turns it into a running entry. A session carrying this registry's `@mam_registry` mark is
 * registered by a pass under any name even when no entry exists at all.
 */

let box: Sandbox;
let server: string;
let ws: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-create-int-');
  server = box.serverName('int');
  ws = path.join(box.home, 'w');
  await mkdir(ws, { recursive: true });
});

afterEach(async () => {
  await box.dispose();
});

const env = (): NodeJS.ProcessEnv => box.env({ MAM_TMUX_SERVER: server, MAM_REGISTRY: box.registry });

function entries(): readonly RegistryEntry[] {
  return existsSync(box.registry) ? parseRegistry(box.registry, readFileSync(box.registry, 'utf8')).entries : [];
}

async function sessions(): Promise<string[]> {
  return (await box.tmux(server, 'list-sessions', '-F', '#{session_name}').catch(() => '')).split('\n').filter(Boolean);
}

/** Starts `mam create` of a slow agent (no ready pattern: create watches its screen), signals it once its tmux session exists. */
async function interruptedCreate(name: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [MAM, 'create', '--agent', 'bash', '--workspace', ws, '--name', name, '--', '-c', 'sleep 5; exec cat'], { env: env() });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  const appeared = await waitFor(async () => (await sessions()).includes(name) || child.exitCode !== null, 60_000, 10);
  expect(appeared, `${name}: the tmux session to appear`).toBe(true);
  child.kill(signal);
  const result = await exited;
  return { ...result, stderr };
}

/** After any interrupt: each session on the server is registered, and a pass leaves nothing starting or unregistered. */
async function expectNothingOrphaned(): Promise<void> {
  const registered = new Map(entries().map((entry) => [entry.name, entry]));
  for (const name of await sessions()) {
    const entry = registered.get(name);
    expect(entry, `${name} is alive in tmux, so it must be registered`).toBeDefined();
    expect(['starting', 'running']).toContain(entry!.status);
    expect(entry!.start_command).toBe("bash -c 'sleep 5; exec cat'");
  }
  const pass = emitted(await mam(['reconcile', '--once', '--emit-diff', '--tmux-server', server], env()));
  expect(pass.problems).toEqual([]);
  const after = new Map(entries().map((entry) => [entry.name, entry]));
  for (const name of await sessions()) expect(after.get(name)?.status, `${name} after a pass`).toBe('running');
  for (const entry of after.values()) expect(entry.status, `${entry.name} after a pass`).not.toBe('starting');
}

describe('an interrupted mam create (issue 13.2)', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s after the session exists: create undoes it (or completes it) and exits %i', async (signal, code) => {
    for (let round = 0; round < 3; round += 1) {
      const name = `n${round}${signal.toLowerCase()}`;
      const result = await interruptedCreate(name, signal);
      // Killed by the signal itself would mean nothing got the chance to clean up.
      expect(result.signal, result.stderr).toBeNull();
      if (result.code === 0) {
        // The signal came after create had finished: registered and running, nothing to undo.
        expect(entries().find((entry) => entry.name === name)).toMatchObject({ status: 'running' });
      } else {
        expect(result.code, result.stderr).toBe(code);
        expect(result.stderr).toContain(`create interrupted (${signal})`);
        // Undone, or registered as running: never left starting by a create that is still able to finish its work.
        const entry = entries().find((candidate) => candidate.name === name);
        if ((await sessions()).includes(name)) expect(entry).toMatchObject({ status: 'running' });
        else expect(entry).toBeUndefined();
      }
      await expectNothingOrphaned();
    }
  });

  it('SIGKILL after the session exists: the starting entry is there, and a pass makes it running', async () => {
    for (let round = 0; round < 3; round += 1) {
      const name = `k${round}`;
      const result = await interruptedCreate(name, 'SIGKILL');
      expect(result.signal).toBe('SIGKILL');
      expect(await sessions()).toContain(name);
      expect(entries().find((entry) => entry.name === name)).toMatchObject({ status: 'starting', start_command: "bash -c 'sleep 5; exec cat'" });
      await expectNothingOrphaned();
    }
  });

  it('a session mam started whose entry is lost altogether is registered by its mark, under a name no convention knows', async () => {
    const result = await interruptedCreate('lost1', 'SIGKILL');
    expect(result.signal).toBe('SIGKILL');
    // The write that would have recorded it is gone (a hand edit, a restored backup): only tmux's mark is left.
    writeFileSync(box.registry, 'tmux_sessions: []\n');
    const pass = emitted(await mam(['reconcile', '--once', '--emit-diff', '--tmux-server', server], env()));
    expect(pass.drifts).toEqual([expect.objectContaining({ class: 'B', session: 'lost1' })]);
    expect(entries()).toEqual([expect.objectContaining({ name: 'lost1', status: 'running', last_visible_status: 'auto-registered' })]);
  });
});
