import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { MONITOR_SESSION } from '../../src/tmux/control.js';
import { refusingTmux } from '../helpers/refusing-tmux.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * `mam reconcile --subscribe` as a user runs it: one long-lived process, real tmux on private sockets.
 * The hour-long interval means any change seen within the (generous) bounds below came from a push, not from
 * the resync: the bounds wait for a condition, and a loaded machine may take seconds where a quiet one takes ms.
 */
const LONG_AGO = '2026-01-01T00:00:00Z';

let box: Sandbox;
const children: ChildProcessWithoutNullStreams[] = [];
beforeEach(async () => {
  box = await Sandbox.create();
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  await box.dispose();
});

function entryYaml(fields: Record<string, string>): string {
  return `  - ${Object.entries(fields)
    .map(([key, value]) => `${key}: ${value}`)
    .join('\n    ')}\n`;
}

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly reports: Array<{ drifts: Array<{ class: string; session: string }>; written: boolean }>;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

function subscribe(servers: readonly string[], interval = '3600', extraEnv: NodeJS.ProcessEnv = {}): Running {
  const args = ['reconcile', '--subscribe', '--emit-diff', '--registry', box.registry, '--interval', interval, ...servers.flatMap((server) => ['--tmux-server', server])];
  const child = spawn(process.execPath, [MAM, ...args], { env: box.env({ MAM_LOG_LEVEL: 'info', ...extraEnv }) });
  children.push(child);
  const reports: Running['reports'] = [];
  let buffer = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) reports.push(JSON.parse(line) as Running['reports'][number]);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, reports, stderr: () => stderr, exited };
}

async function entries(): Promise<Map<string, RegistryEntry>> {
  const text = await readFile(box.registry, 'utf8').catch(() => '');
  return new Map(parseRegistry(box.registry, text).entries.map((entry) => [entry.name, entry]));
}

/** Far below the hour-long resync, far above any push on a loaded machine. */
const PUSH_BOUND_MS = 60_000;
/** Push latencies are measured: look every 5 ms (reading the registry is ~0.2 ms). */
const CLOSELY = { intervalMs: 5 } as const;

/** A process starting (node loading the CLI) and its first pass: no push is timed by it, so it can be longer still. */
const START_BOUND_MS = 120_000;

/** Waits for the startup pass and for the control client to be attached (its session exists). */
async function ready(running: Running, server: string | undefined): Promise<void> {
  await until(async () => running.reports.length > 0, 'first pass', START_BOUND_MS, { ...CLOSELY, detail: () => `stderr: ${running.stderr()}` });
  if (server !== undefined) {
    await until(async () => (await box.tmux(server, 'list-sessions', '-F', '#{session_name}').catch(() => '')).split('\n').includes(MONITOR_SESSION), 'control client attached', PUSH_BOUND_MS, CLOSELY);
  }
}

describe('mam reconcile --subscribe', () => {
  it('marks a killed session terminated at once (by push, not the hour-long resync), registers a new creator session, and exits 0 on SIGTERM', async () => {
    const server = box.serverName('sub');
    const ws = (name: string): string => path.join(box.root, 'work', name);
    await box.startSession(server, 'keepalive', box.root);
    await box.startSession(server, 'alpha-creator-claude', ws('alpha'));
    await box.writeRegistry(
      `tmux_sessions:\n${entryYaml({ name: 'alpha-creator-claude', agent: 'claude', workspace: ws('alpha'), status: 'running', tmux_server: server, created_at: LONG_AGO })}`,
    );
    const running = subscribe([server]);
    await ready(running, server);
    expect((await entries()).get('alpha-creator-claude')?.status).toBe('running');

    const killedAt = Date.now();
    await box.killSession(server, 'alpha-creator-claude');
    await until(async () => (await entries()).get('alpha-creator-claude')?.status === 'terminated', 'killed session marked terminated', PUSH_BOUND_MS, CLOSELY);
    const killLatency = Date.now() - killedAt;
    expect(killLatency).toBeLessThan(PUSH_BOUND_MS);
    expect((await entries()).get('alpha-creator-claude')).toMatchObject({ status: 'terminated', termination_mode: 'auto-detected' });
    await until(async () => running.reports.some((report) => report.drifts.some((drift) => drift.class === 'A' && drift.session === 'alpha-creator-claude')), 'drift A emitted', PUSH_BOUND_MS, CLOSELY);

    const createdAt = Date.now();
    await box.startSession(server, 'beta-creator-claude', ws('beta'));
    await until(async () => (await entries()).get('beta-creator-claude')?.status === 'running', 'new creator session registered', PUSH_BOUND_MS, CLOSELY);
    const createLatency = Date.now() - createdAt;
    expect(createLatency).toBeLessThan(PUSH_BOUND_MS);
    expect((await entries()).get('beta-creator-claude')).toMatchObject({ last_visible_status: 'auto-registered', tmux_server: server, workspace: ws('beta') });

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    // The control client is gone, and its session with it; the user's sessions are untouched.
    const left = (await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim().split('\n').sort();
    expect(left).toEqual(['beta-creator-claude', 'keepalive']);
  });

  it('picks up a tmux server that does not exist at start, without starting it', async () => {
    const server = box.serverName('late');
    const ws = path.join(box.root, 'work', 'late');
    const running = subscribe([server]);
    await ready(running, undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(box.tmux(server, 'list-sessions')).rejects.toThrow(/no server running|error connecting/);

    const startedAt = Date.now();
    await box.startSession(server, 'late-creator-claude', ws);
    await until(async () => (await entries()).get('late-creator-claude')?.status === 'running', 'session on the late server registered', PUSH_BOUND_MS, CLOSELY);
    const latency = Date.now() - startedAt;
    expect(latency).toBeLessThan(PUSH_BOUND_MS);

    // Now attached to it: a kill is pushed again.
    await until(async () => (await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).includes(MONITOR_SESSION), 'control client attached to the late server', PUSH_BOUND_MS, CLOSELY);
    await box.startSession(server, 'keepalive', box.root);
    // An auto-registered entry is minutes old, not seconds, before a kill may flip it (the grace window):
    // backdate it, as if registered long ago.
    const text = await readFile(box.registry, 'utf8');
    await box.writeRegistry(text.replace(/created_at: .*/, `created_at: ${LONG_AGO}`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await box.killSession(server, 'late-creator-claude');
    await until(async () => (await entries()).get('late-creator-claude')?.status === 'terminated', 'killed session on the late server', PUSH_BOUND_MS, CLOSELY);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('lets a server whose last session dies exit, sees that, and reattaches when it comes back', async () => {
    const server = box.serverName('last');
    const ws = path.join(box.root, 'work', 'solo');
    await box.startSession(server, 'solo-creator-claude', ws);
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'solo-creator-claude', agent: 'claude', workspace: ws, status: 'running', tmux_server: server, created_at: LONG_AGO })}`);
    const running = subscribe([server]);
    await ready(running, server);

    await box.killSession(server, 'solo-creator-claude');
    await until(async () => (await entries()).get('solo-creator-claude')?.status === 'terminated', 'last session marked terminated', PUSH_BOUND_MS, CLOSELY);
    // Our monitor session does not keep the emptied server alive.
    await until(async () => box.tmux(server, 'list-sessions').then(() => false, () => true), 'server exited', PUSH_BOUND_MS, CLOSELY);

    await box.startSession(server, 'next-creator-claude', ws);
    await until(async () => (await entries()).get('next-creator-claude')?.status === 'running', 'session on the restarted server registered', PUSH_BOUND_MS, CLOSELY);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('falls back to polling at --interval when tmux control mode cannot be had', async () => {
    const server = box.serverName('nocc');
    const wrapper = path.join(box.root, 'tmux-no-control.sh');
    await writeFile(wrapper, `#!/bin/sh\nfor arg in "$@"; do [ "$arg" = -C ] && { echo 'control mode refused (test)' >&2; exit 1; }; done\nexec tmux "$@"\n`);
    await chmod(wrapper, 0o755);
    await box.startSession(server, 'keepalive', box.root);
    await box.startSession(server, 'poll-creator-claude', box.root);
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'poll-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO })}`);
    const running = subscribe([server], '0.4', { MAM_TMUX_BIN: wrapper });
    await ready(running, undefined);
    await until(async () => running.stderr().includes('polling it at the resync interval'), 'the fallback is logged', PUSH_BOUND_MS, CLOSELY);

    await box.killSession(server, 'poll-creator-claude');
    await until(async () => (await entries()).get('poll-creator-claude')?.status === 'terminated', 'terminated by the periodic pass', PUSH_BOUND_MS, CLOSELY);
    expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('keepalive');

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('when every control client attaches and exits at once: passes at --interval, one warning, a few -C spawns, no monitor session left', async () => {
    const server = box.serverName('ccexit');
    const tmux = await refusingTmux(box.root, 'stdin-closed');
    await box.startSession(server, 'keepalive', box.root);
    await box.startSession(server, 'gone-creator-claude', box.root);
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'gone-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO })}`);
    const startedAt = Date.now();
    const running = subscribe([server], '0.5', { MAM_TMUX_BIN: tmux.bin, MAM_LOG_LEVEL: 'warn' });
    await ready(running, undefined);
    const fallback = (): number => running.stderr().split('\n').filter((line) => line.includes('tmux control mode does not work on this server')).length;
    await until(async () => fallback() === 1, 'the fallback warning', PUSH_BOUND_MS, CLOSELY);

    await box.killSession(server, 'gone-creator-claude');
    await until(async () => (await entries()).get('gone-creator-claude')?.status === 'terminated', 'terminated by an interval pass', PUSH_BOUND_MS, CLOSELY);
    // The interval keeps going while control mode fails: five more passes, counted rather than expected within a
    // wall-clock window (a loaded machine runs fewer per second). Nothing changes now, so only the 0.5 s resync can
    // run them: with it stopped, or fallen back to the hour-long default, none would come within the bound.
    const before = running.reports.length;
    await until(async () => running.reports.length >= before + 5, 'five more passes at --interval', PUSH_BOUND_MS, CLOSELY);
    // And at least ~10 s of a server that ends every control client, so retries that spun instead of backing off
    // and pausing would have shown as more -C spawns. A floor on the time, never a ceiling.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + 10_000 - Date.now())));
    expect(await tmux.spawns()).toBeGreaterThanOrEqual(1);
    expect(await tmux.spawns()).toBeLessThanOrEqual(4);
    // A failed client's session is removed after it exits, which on a slow machine may be just now.
    await until(async () => (await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim() === 'keepalive', 'no monitor session left', PUSH_BOUND_MS, CLOSELY);
    expect(await tmux.spawns()).toBeLessThanOrEqual(4);
    expect(fallback()).toBe(1);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(fallback()).toBe(1);
    expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('keepalive');
  });

  it('refuses --subscribe with --once', async () => {
    const result = await mam(['reconcile', '--subscribe', '--once', '--registry', box.registry], box.env());
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/--subscribe and --once/);
  });
});
