import { existsSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { emitted, MAM, mam, REPO, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * `mam status` reads the pane of a session no hook reports for: the built CLI, real tmux on a private
 * socket, test/fixtures/fake-agent.mjs as codex / agy, its `/fake-approval` showing Codex's dialog.
 */

const FAKE_AGENT = path.join(REPO, 'test/fixtures/fake-agent.mjs');

interface Row {
  readonly name: string;
  readonly activity: string | null;
  readonly activity_source: string | null;
}

let box: Sandbox;
let server: string;
let bin: string;
let agentLog: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-status-pane-');
  server = box.serverName('pane');
  bin = path.join(box.root, 'bin');
  agentLog = path.join(box.root, 'agent.log');
  await mkdir(bin, { recursive: true });
  for (const kind of ['codex', 'agy']) await symlink(FAKE_AGENT, path.join(bin, kind));
});

afterEach(async () => {
  await box.tmux(server, 'kill-server').catch(() => undefined);
  // The fake agents log their exit after the hang-up: let them go before their sandbox does.
  const pids = logged().filter((event) => event.event === 'start').map((event) => event.pid);
  await until(() => pids.every((pid) => !existsSync(`/proc/${pid}`)), 'the fake agents to exit', 30_000).catch(() => undefined);
  await box.dispose();
});

function env(): NodeJS.ProcessEnv {
  return box.env({
    PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}`,
    FAKE_AGENT_LOG: agentLog,
    CODEX_HOME: path.join(box.root, 'codex-home'),
    MAM_TMUX_SERVER: server,
    MAM_REGISTRY: box.registry,
  });
}

function logged(): { event: string; pid: number; text?: string; id?: string }[] {
  if (!existsSync(agentLog)) return [];
  return readFileSync(agentLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; pid: number });
}

const screen = (name: string): Promise<string> => box.tmux(server, 'capture-pane', '-p', '-J', '-t', `=${name}:`).catch(() => '');

async function typeLine(name: string, text: string): Promise<void> {
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, '-l', text);
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, 'Enter');
}

async function create(kind: string, promptMark: string): Promise<string> {
  const ws = path.join(box.root, 'work', kind);
  await mkdir(ws, { recursive: true });
  const result = await mam(['create', '--agent', kind, '--workspace', ws, '--json'], env());
  expect(result.code, result.stderr).toBe(0);
  const name = (JSON.parse(result.stdout) as { entry: { name: string } }).entry.name;
  await until(async () => (await screen(name)).includes(promptMark), `${kind}'s prompt`, 15_000);
  return name;
}

async function row(name: string): Promise<Row> {
  const result = await mam(['status', '--json'], env());
  expect(result.code, result.stderr).toBe(0);
  const found = (JSON.parse(result.stdout) as { sessions: Row[] }).sessions.find((session) => session.name === name);
  if (!found) throw new Error(`${name} not in status: ${result.stdout}`);
  return found;
}

describe('mam status: activity from the pane', () => {
  it('a Codex session without hooks: waiting, needs_approval while its dialog shows, waiting once answered', async () => {
    const name = await create('codex', '›');
    expect(await row(name)).toMatchObject({ activity: 'waiting', activity_source: 'pane' });

    await typeLine(name, '/fake-approval touch marker');
    await until(async () => (await screen(name)).includes('Press enter to confirm or esc to cancel'), 'the approval dialog', 15_000);
    expect(await row(name)).toMatchObject({ activity: 'needs_approval', activity_source: 'pane' });
    const table = await mam(['status'], env());
    expect(table.stdout.split('\n').find((line) => line.startsWith(name))).toContain('NEEDS APPROVAL');

    await typeLine(name, 'y');
    await until(async () => (await screen(name)).includes('You approved codex to run touch marker'), 'the answer', 15_000);
    expect(await row(name)).toMatchObject({ activity: 'waiting', activity_source: 'pane' });
    expect(logged().some((event) => event.event === 'approval')).toBe(true);
  });

  it("a Codex dialog on screen beats its hooks' working (the dialog fires no hook); without one the hooks answer", async () => {
    const name = await create('codex', '›');
    await typeLine(name, '/fake-approval rm -rf build');
    await until(async () => (await screen(name)).includes('Press enter to confirm'), 'the approval dialog', 15_000);
    // Record the conversation id (drift C), then give the session a hook fact: working.
    const reconciled = await mam(['reconcile', '--once', '--emit-diff'], env());
    const drift = emitted(reconciled).drifts.find((candidate) => candidate['class'] === 'C' && candidate['session'] === name);
    const id = logged().find((event) => event.event === 'artifact')?.id;
    expect(drift, reconciled.stdout).toBeDefined();
    const facts = path.join(box.root, 'cache', 'mam', 'status');
    await mkdir(facts, { recursive: true });
    const at = new Date().toISOString();
    await writeFile(path.join(facts, `${id}.agent.main.json`), JSON.stringify({ status: 'working', tools: {}, agent_type: null, needs_approval_since: null, updated_at: at }));

    expect(await row(name)).toMatchObject({ activity: 'needs_approval', activity_source: 'pane' });
    await typeLine(name, 'n');
    await until(async () => (await screen(name)).includes('You did not approve'), 'the answer', 15_000);
    expect(await row(name)).toMatchObject({ activity: 'working', activity_source: 'hooks' });
  });

  it('status --watch keeps one pane sampler: agy, unknown to one capture, reads waiting once its screen holds still', async () => {
    const name = await create('agy', '>');
    const watcher = spawn(process.execPath, [MAM, 'status', '--watch', '--json', '--interval', '0.3'], { env: env(), stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    watcher.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      const rows = (): Row[] => output.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { sessions: Row[] }).sessions.find((session) => session.name === name)!);
      await until(() => rows().some((found) => found.activity === 'waiting'), 'waiting from the debounced pane', 15_000);
      // The first redraw had one look only, which cannot tell a still screen: unknown, as plain `mam status` says.
      expect(rows()[0]).toMatchObject({ activity: null, activity_source: null });
      expect(rows().at(-1)).toMatchObject({ activity: 'waiting', activity_source: 'pane' });
    } finally {
      watcher.kill('SIGINT');
    }
  });

  it('agy has no screen patterns: one capture cannot tell, so its activity stays unknown', async () => {
    const name = await create('agy', '>');
    expect(await row(name)).toMatchObject({ activity: null, activity_source: null });
  });

  it('a running session whose tmux session is gone: no capture, no activity, no error', async () => {
    const name = await create('codex', '›');
    await box.killSession(server, name);
    expect(await row(name)).toMatchObject({ activity: null, activity_source: null });
  });
});
