import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeClaudeTranscript } from '../helpers/claude-fixtures.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * Job events are a push source for `reconcile --subscribe`: a conversation appearing on disk makes no tmux
 * event, so only the 30 s resync would find it — unless a job event says "look now".
 */
let box: Sandbox;
const children: ChildProcess[] = [];
beforeEach(async () => {
  box = await Sandbox.create('mam-subjobs-');
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await box.dispose();
});

describe('reconcile --subscribe with job events', () => {
  it('runs a pass as soon as a job event arrives, long before the resync', async () => {
    const env = box.env({ MAM_BROKER_DIR: path.join(box.root, 'broker') });
    const broker = spawn(process.execPath, [MAM, 'broker', '--dir', path.join(box.root, 'broker')], { env, stdio: 'ignore' });
    children.push(broker);
    await until(async () => (await readFile(path.join(box.root, 'broker', 'broker.json'), 'utf8').catch(() => '')) !== '', 'the broker', 60_000);

    const server = box.serverName('subjobs');
    const workspace = path.join(box.root, 'w');
    await mkdir(workspace, { recursive: true });
    await box.startSession(server, 'w-creator-claude', workspace);
    await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${workspace}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
    const reconcile = spawn(process.execPath, [MAM, 'reconcile', '--subscribe', '--interval', '3600', '--registry', box.registry, '--tmux-server', server], { env, stdio: 'ignore' });
    children.push(reconcile);
    // Give its job source time to connect (its first pass runs at start anyway).
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const id = 'c0ffee00-1111-4222-8333-444455556666';
    await writeClaudeTranscript(box.home, workspace, id);
    const jobs = path.join(box.root, 'jobs');
    const dry = await mam(['job', 'submit', '--agent', 'human', '--prompt', 'p', '--workdir', workspace, '--registry-dir', jobs, '--dry-run'], env);
    const job = /registered job: (j_[0-9a-f]{24})/.exec(dry.stdout)![1]!;
    const published = await mam(['job', 'event', '--job', job, '--event', 'started', '--registry-dir', jobs], env);
    expect(published.code, published.stderr).toBe(0);
    // --interval 3600 puts the resync an hour away, and nothing else (no tmux event, no registry write) announces a
    // transcript: a pass within this bound, however slow the machine, can only have come from the job event.
    await until(async () => (await readFile(box.registry, 'utf8')).includes(`claude_session_id_own: ${id}`), 'the id recorded', 120_000);
  });
});
