import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/util/wait.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';

/**
 * Delegated jobs through the real CLI, real tmux and the embedded broker. The agent is a small script
 * that does what a well-behaved agent does with its instruction: it runs the `mam job event` commands
 * the header gives it — so the events really come from inside the tmux session.
 */
let box: Sandbox;
let env: NodeJS.ProcessEnv;
let workdir: string;

const REPORTER = `#!/bin/bash
# Reads the instruction typed into it, then reports as told (\${REPORT:-started progress completed}).
IFS= read -r line
cmd=$(printf '%s' "$line" | sed -n 's/.*on start: \\(.* --registry-dir [^ ]*\\) --event started.*/\\1/p')
for event in \${REPORT:-started progress completed}; do
  $cmd --event "$event" --detail "from the agent: $event" >> "$HOME/reporter.log" 2>&1
done
while IFS= read -r more; do :; done
`;

beforeEach(async () => {
  box = await Sandbox.create('mam-job-');
  workdir = path.join(box.root, 'work');
  await mkdir(workdir, { recursive: true });
  const bin = path.join(box.root, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'reporter'), REPORTER);
  await chmod(path.join(bin, 'reporter'), 0o755);
  await writeFile(path.join(bin, 'mute'), '#!/bin/bash\nwhile IFS= read -r line; do :; done\n');
  await chmod(path.join(bin, 'mute'), 0o755);
  env = box.env({ PATH: `${bin}:${process.env['PATH']}`, MAM_TMUX_SERVER: box.serverName('job'), MAM_STATE_DIR: path.join(box.root, 'state')});
});

afterEach(async () => {
  await box.dispose(); // also stops the embedded broker the test's jobs started
});

const job = (...args: string[]) => mam(['job', ...args, '--registry-dir', path.join(workdir, '.mam', 'jobs')], env, workdir);

describe('mam job', () => {
  it('submit: the agent reports from its tmux session, the job completes, the audit log has everything', async () => {
    const result = await job('submit', '--agent', 'reporter', '--prompt', 'tidy the README', '--workdir', workdir, '--validate', path.join(workdir, 'check.sh'));
    // (the validation script is written below; a missing one fails validation, so write it first in a second run)
    expect(result.stdout).toMatch(/^registered job: j_[0-9a-f]{24}$/m);
    expect(result.stdout).toMatch(/^event: started — from the agent: started$/m);
    expect(result.stdout).toMatch(/^event: completed — from the agent: completed$/m);
    expect(result.stdout).toMatch(/^job j_[0-9a-f]{24}: completed$/m);
    expect(result.stdout).toMatch(/^validation: FAIL/m);
    expect(result.code).toBe(1);

    await writeFile(path.join(workdir, 'check.sh'), 'test -n "$JOB_ID" && test -d "$REGISTRY_DIR" && echo "checked $JOB_ID"\n');
    const ok = await job('submit', '--agent', 'reporter', '--prompt', 'tidy the README', '--workdir', workdir, '--validate', path.join(workdir, 'check.sh'));
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^validation: PASS$/m);
    const lines = ok.stdout.trim().split('\n');
    const auditDir = lines.at(-1)!;
    const id = /registered job: (j_[0-9a-f]{24})/.exec(ok.stdout)![1]!;
    // Beside the registry (here the user's own, ~/.hermes), never in the work tree.
    expect(auditDir).toBe(path.join(box.home, '.hermes', 'delegate_job_logs', id));
    expect(existsSync(path.join(workdir, 'delegate_job_logs'))).toBe(false);
    expect((await readdir(auditDir)).sort()).toEqual(['events.jsonl', 'instruction.txt', 'pane-final.txt', 'validation.txt']);
    expect(await readFile(path.join(auditDir, 'instruction.txt'), 'utf8')).toContain(`Your job_id is "${id}"`);
    const events = (await readFile(path.join(auditDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).toEqual(['submitted', 'started', 'progress', 'completed']);
    expect(await readFile(path.join(auditDir, 'validation.txt'), 'utf8')).toContain(`checked ${id}`);

    const status = JSON.parse((await job('status', '--job', id, '--json')).stdout) as { status: string; agent_session: string };
    expect(status).toMatchObject({ status: 'completed', agent_session: expect.stringMatching(/^work-job-[0-9a-f]{8}$/) });
    expect((await job('list')).stdout).toContain(`${id}  completed`);
  });

  it('an agent that never reports ends in an idle timeout with the reason', async () => {
    const result = await job('submit', '--agent', 'mute', '--prompt', 'do nothing', '--workdir', workdir, '--idle-timeout', '2');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^job j_[0-9a-f]{24}: timeout \(idle timeout: no event for 2 s/m);
  });

  it('--registry-dir naming an existing directory keeps its mode, even on a dry run; one it creates is 700', async () => {
    // As pointed at ~ or a shared folder: chmod 700 there would lock everyone else out.
    const shared = path.join(box.root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o755);
    const dry = await mam(['job', 'submit', '--agent', 'human', '--prompt', 'p', '--workdir', workdir, '--dry-run', '--registry-dir', shared], env, workdir);
    expect(dry.code, dry.stderr).toBe(0);
    const id = /registered job: (j_[0-9a-f]{24})/.exec(dry.stdout)![1]!;
    expect((await stat(shared)).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(shared, `${id}.json`))).mode & 0o777).toBe(0o600);

    const fresh = path.join(box.root, 'fresh', 'jobs');
    expect((await mam(['job', 'submit', '--agent', 'human', '--prompt', 'p', '--workdir', workdir, '--dry-run', '--registry-dir', fresh], env, workdir)).code).toBe(0);
    expect((await stat(fresh)).mode & 0o777).toBe(0o700);
  });

  it('a waiter started after the agent reported still sees every event', async () => {
    const dry = await job('submit', '--agent', 'reporter', '--prompt', 'p', '--workdir', workdir, '--dry-run');
    const id = /registered job: (j_[0-9a-f]{24})/.exec(dry.stdout)![1]!;
    for (const event of ['started', 'progress', 'completed']) expect((await job('event', '--job', id, '--event', event)).code).toBe(0);
    const waited = await job('wait', '--job', id, '--timeout', '10');
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout).toContain(`${id}  completed`);
  });

  it('a job survives its broker being killed mid-way: every event is kept and the waiter finishes', async () => {
    // Neither the job's idle timeout nor the waiter's --timeout may run out while the events below are reported: each
    // is a `mam job event` process that may start a broker, and on a loaded machine the three took over the 60 s the
    // waiter once had (it exited 3, "still running"). Both bounds are far past the test's own, and the waiter is
    // killed at the end whatever happens, so they only ever end a hang.
    const dry = await job('submit', '--agent', 'human', '--prompt', 'p', '--workdir', workdir, '--dry-run', '--idle-timeout', '3600');
    const id = /registered job: (j_[0-9a-f]{24})/.exec(dry.stdout)![1]!;
    const waiter = spawn(process.execPath, [MAM, 'job', 'wait', '--job', id, '--timeout', '3600', '--registry-dir', path.join(workdir, '.mam', 'jobs')], { env, cwd: workdir });
    try {
      let waited = '';
      waiter.stdout.setEncoding('utf8').on('data', (chunk: string) => (waited += chunk));
      const exited = new Promise<number | null>((resolve) => waiter.once('exit', (code) => resolve(code)));
      expect((await job('event', '--job', id, '--event', 'started')).code).toBe(0);
      const brokerFile = path.join(box.root, 'broker', 'broker.json');
      const { pid } = JSON.parse(await readFile(brokerFile, 'utf8')) as { pid: number };
      process.kill(pid, 'SIGKILL');
      // The next reporter finds no broker and starts a new one on demand; whatever it could not publish is in the file.
      const during = await job('event', '--job', id, '--event', 'progress', '--detail', 'while the broker was down');
      expect([0, 2]).toContain(during.code);
      expect((await job('event', '--job', id, '--event', 'completed')).code).toBe(0);
      expect(await exited).toBe(0);
      expect(waited).toContain(`${id}  completed`);
      const events = (JSON.parse((await job('status', '--job', id, '--json')).stdout) as { events: { event: string }[] }).events.map((event) => event.event);
      expect(events).toEqual(['submitted', 'started', 'progress', 'completed']);
      expect((JSON.parse(await readFile(brokerFile, 'utf8')) as { pid: number }).pid).not.toBe(pid);
    } finally {
      if (waiter.exitCode === null && waiter.signalCode === null) waiter.kill('SIGKILL');
    }
  });

  it('refuses bad events and ids, and keeps an event it could not publish', async () => {
    const dry = await job('submit', '--agent', 'reporter', '--prompt', 'p', '--workdir', workdir, '--dry-run');
    const id = /registered job: (j_[0-9a-f]{24})/.exec(dry.stdout)![1]!;
    const unknown = await job('event', '--job', id, '--event', 'finished');
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/unknown event "finished"; one of started, permission_required, progress, completed, error/);
    const traversal = await job('event', '--job', '../../etc/passwd', '--event', 'started');
    expect(traversal.code).toBe(64);
    expect(traversal.stderr).toMatch(/is not a job id/);
    const elsewhere = await mam(['job', 'event', '--job', id, '--event', 'started', '--registry-dir', path.join(box.root, 'other')], env, workdir);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/no job .* another registry/);
    const unreachable = await mam(['job', 'event', '--job', id, '--event', 'started', '--registry-dir', path.join(workdir, '.mam', 'jobs')], { ...env, MAM_MQTT_URL: 'mqtt://127.0.0.1:1' }, workdir);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/recorded in the job file, but not published/);
    expect(JSON.parse((await job('status', '--job', id, '--json')).stdout)).toMatchObject({ status: 'running' });
  });

  it('lifecycle: create --submit-job records the job, status shows both states, stop ends the job, delete ends an orphaned one', async () => {
    const jobsDir = path.join(workdir, '.mam', 'jobs');
    const registry = path.join(box.root, 'agent-sessions.yaml');
    const life = (...args: string[]) => mam([...args, '--registry', registry], { ...env, REPORT: 'started' }, workdir);
    const created = await life('create', '--agent', 'reporter', '--workspace', workdir, '--name', 'w-creator-reporter', '--submit-job', 'write docs', '--registry-dir', jobsDir);
    expect(created.code, created.stderr).toBe(0);
    const id = /delegated job (j_[0-9a-f]{24})/.exec(created.stderr)![1]!;
    const readJobFile = async () => JSON.parse((await job('status', '--job', id, '--json')).stdout) as { status: string; agent_session: string; events: { event: string; detail: string | null }[] };
    // Bounds for a hang, checked: a wait that ran out must fail here, not as a confusing mismatch further down.
    expect(await waitFor(async () => (await readJobFile()).status === 'running', 120_000, 100), 'the job to be running').toBe(true);
    expect(await readJobFile()).toMatchObject({ status: 'running', agent_session: 'w-creator-reporter' });
    expect((await life('status')).stdout).toMatch(/w-creator-reporter\s+reporter\s+running\/job running/);

    expect((await life('stop', '--session', 'w-creator-reporter')).code).toBe(0);
    const stopped = await readJobFile();
    expect(stopped.status).toBe('completed');
    expect(stopped.events.slice(-2)).toEqual([
      expect.objectContaining({ event: 'progress', detail: 'terminating' }),
      expect.objectContaining({ event: 'completed', detail: expect.stringMatching(/^session w-creator-reporter stopped/) }),
    ]);
    expect((await life('status')).stdout).toMatch(/w-creator-reporter\s+reporter\s+stopped\/job completed/);

    // A session that died with its job still open: reconcile marks it terminated, delete ends the job.
    const orphan = await life('create', '--agent', 'mute', '--workspace', workdir, '--name', 'o-creator-mute', '--submit-job', 'never answered', '--registry-dir', jobsDir);
    const orphanId = /delegated job (j_[0-9a-f]{24})/.exec(orphan.stderr)![1]!;
    await box.killSession(env['MAM_TMUX_SERVER']!, 'o-creator-mute');
    // Reconcile leaves a session created in the last 5 s alone (the user's action wins): poll past that window.
    const detected = await waitFor(async () => {
      if ((await readFile(registry, 'utf8')).includes('termination_mode: auto-detected')) return true;
      await mam(['reconcile', '--once', '--registry', registry, '--tmux-server', env['MAM_TMUX_SERVER']!], env, workdir);
      return false;
    }, 120_000, 250);
    expect(detected, 'reconcile to mark o-creator-mute terminated (auto-detected)').toBe(true);
    expect((await life('delete', '--session', 'o-creator-mute')).code).toBe(0);
    const ended = JSON.parse((await job('status', '--job', orphanId, '--json')).stdout) as { status: string; reason: string };
    expect(ended).toMatchObject({ status: 'error', reason: 'session o-creator-mute was deleted' });
  });

  it('runs three jobs at once without mixing their events', async () => {
    const results = await Promise.all([1, 2, 3].map((index) => job('submit', '--agent', 'reporter', '--prompt', `task ${index}`, '--workdir', workdir, '--agent-session', `tmux:parallel-${index}`)));
    for (const result of results) expect(result.code, result.stdout + result.stderr).toBe(0);
    const jobs = JSON.parse((await job('list', '--json')).stdout) as { job_id: string; status: string; prompt: string; events: { event: string }[] }[];
    expect(jobs).toHaveLength(3);
    for (const item of jobs) expect(item.events.map((event) => event.event)).toEqual(['submitted', 'started', 'progress', 'completed']);
  });
});
