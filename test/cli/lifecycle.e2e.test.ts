import { existsSync, readFileSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { alive } from '../helpers/fake-agents.js';
import { KINDS, ID_FIELD, RESUME_ARGS, LAUNCH_ARGS, EXIT_VIA, PROMPT_MARK, lifecycleEachTest } from '../helpers/lifecycle-e2e.js';
import { until } from '../helpers/until.js';

/**
 * `mam create / resume / stop / delete` end to end, the paths that go as planned: each kind's whole lifecycle,
 * a job delegated at create, and a stop that purges the conversation. The built CLI, real tmux on private sockets,
 * and test/fixtures/fake-agent.mjs standing in for codex, gemini and agy (the set-up: test/helpers/lifecycle-e2e.ts).
 * Resume's fallbacks are in lifecycle-resume.e2e, refusals and odd states in lifecycle-refusals.e2e.
 */

const { box, server, mamRun, workspace, registryText, entries, entryOf, eventsOf, sessions, screen, artifactFiles, conversationFiles, create, prompt, reconcileRecords, conversationOutsideMam } = lifecycleEachTest();

describe.each(KINDS)('mam lifecycle with a fake %s', (kind) => {
  it('create → prompt → reconcile records the id → stop (graceful) → resume the same conversation → stop → delete', async () => {
    // create
    const created = await create(kind);
    expect(created.name).toBe(`ws-${kind}-creator-${kind}`);
    expect(await sessions()).toEqual([created.name]);
    expect(entryOf(created.name)).toMatchObject({
      agent: kind,
      status: 'running',
      workspace: created.ws,
      tmux_server: server(),
      start_argv: [kind, ...LAUNCH_ARGS[kind]],
      [ID_FIELD[kind]]: null,
      pane: { pid: created.pid, cwd: created.ws },
    });
    const [start] = eventsOf(created.pid);
    expect(start).toMatchObject({ event: 'start', args: LAUNCH_ARGS[kind], cwd: created.ws, resume: null });

    // a prompt typed: the conversation artifact appears; reconcile records its id (class C)
    const first = await prompt(created.name, created.pid, `first prompt for ${kind}`);
    expect(conversationFiles(kind)).toEqual([first.file]);
    const drift = await reconcileRecords(created.name);
    expect(drift).toMatchObject({ field: ID_FIELD[kind], conversation_id: first.id });
    expect(entryOf(created.name)[ID_FIELD[kind]]).toBe(first.id);

    // stop: the agent leaves by its own exit keys; every field docs/lifecycle.md lists for stop is written
    const before = Math.floor(Date.now() / 1000);
    const stop = await mamRun(['stop', '--session', created.name, '--reason', 'handoff']);
    const after = Math.ceil(Date.now() / 1000);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe(`stopped ${created.name} (exit-keys)`);
    expect(alive(created.pid)).toBe(false);
    expect(eventsOf(created.pid).at(-1)).toMatchObject({ event: 'exit', code: 0, via: EXIT_VIA[kind] });
    expect(await sessions()).toEqual([]);
    const stopped = entryOf(created.name);
    expect(stopped).toMatchObject({
      status: 'stopped',
      stop_reason: 'handoff',
      termination_mode: 'graceful',
      [ID_FIELD[kind]]: first.id,
      resumable: true,
    });
    expect(stopped.stopped_at).toBeTruthy();
    expect(stopped.stopped_at_epoch).toBeGreaterThanOrEqual(before);
    expect(stopped.stopped_at_epoch).toBeLessThanOrEqual(after);
    expect(stopped.last_visible_status).toContain(`echo: first prompt for ${kind}`);
    expect(existsSync(first.file)).toBe(true);

    // stop again: idempotent, nothing written
    const registryBefore = registryText();
    const again = await mamRun(['stop', '--session', created.name]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^already stopped \(.*reason: handoff\)/);
    expect(registryText()).toBe(registryBefore);

    // resume: the agent gets the resume argv for the same id and continues the same artifact
    const resume = await mamRun(['resume', '--session', created.name, '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    expect(JSON.parse(resume.stdout)).toMatchObject({ tier: 'recorded-id', conversationId: first.id, argv: [kind, ...LAUNCH_ARGS[kind], ...RESUME_ARGS[kind](first.id)] });
    const resumed = entryOf(created.name);
    expect(resumed).toMatchObject({ status: 'running', [ID_FIELD[kind]]: first.id });
    expect(resumed.resumed_at).toBeTruthy();
    const resumedPid = resumed.pane!.pid!;
    expect(resumedPid).not.toBe(created.pid);
    expect(eventsOf(resumedPid).slice(0, 2)).toMatchObject([
      { event: 'start', args: [...LAUNCH_ARGS[kind], ...RESUME_ARGS[kind](first.id)], cwd: created.ws, resume: first.id },
      { event: 'resumed', id: first.id, file: first.file },
    ]);
    await until(async () => (await screen(created.name)).includes(PROMPT_MARK[kind]), 'the resumed prompt', 60_000);
    const second = await prompt(created.name, resumedPid, `second prompt for ${kind}`);
    expect(second).toEqual(first);
    expect(readFileSync(first.file, 'utf8')).toContain(`first prompt for ${kind}`);
    expect(readFileSync(first.file, 'utf8')).toContain(`second prompt for ${kind}`);
    expect(conversationFiles(kind)).toEqual([first.file]);
    expect(eventsOf(resumedPid).some((event) => event.event === 'artifact')).toBe(false);

    // stop again
    const stopAgain = await mamRun(['stop', '--session', created.name]);
    expect(stopAgain.code, stopAgain.stderr).toBe(0);
    expect(alive(resumedPid)).toBe(false);
    expect(eventsOf(resumedPid).at(-1)).toMatchObject({ event: 'exit', code: 0, via: EXIT_VIA[kind] });
    expect(entryOf(created.name)).toMatchObject({ status: 'stopped', termination_mode: 'graceful', [ID_FIELD[kind]]: first.id, resumable: true });

    // delete: gone from the registry, one history line
    const removed = await mamRun(['delete', '--session', created.name]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout.trim()).toBe(`deleted ${created.name}`);
    expect(entries().map((entry) => entry.name)).not.toContain(created.name);
    const history = readFileSync(path.join(path.dirname(box().registry), 'agent-sessions.history.jsonl'), 'utf8').trim().split('\n');
    expect(history).toHaveLength(1);
    expect(JSON.parse(history[0]!)).toMatchObject({ action: 'delete', entry: { name: created.name, status: 'stopped', [ID_FIELD[kind]]: first.id } });
    // The conversation itself is kept: delete forgets the session, not the agent's files.
    expect(existsSync(first.file)).toBe(true);
  });

  it('create --submit-job delegates a job: the agent receives its instruction header and the task', async () => {
    const ws = await workspace(`job-${kind}`);
    const job = `please fix the flaky ${kind} test`;
    const jobsDir = path.join(ws, '.mam', 'jobs');
    const result = await mamRun(['create', '--agent', kind, '--workspace', ws, '--submit-job', job, '--registry-dir', jobsDir, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const { entry, submitted } = JSON.parse(result.stdout) as { entry: RegistryEntry; submitted: { ok: boolean } };
    expect(submitted).toMatchObject({ ok: true });
    expect(entry.delegate_job_id).toMatch(/^j_[0-9a-f]{24}$/);
    expect(entry.delegate_job_registry).toBe(jobsDir);
    const pid = entry.pane!.pid!;
    const lines = eventsOf(pid).filter((event) => event.event === 'line').map((event) => event.text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Your job_id is "${entry.delegate_job_id}"`));
    expect(lines[0]).toContain(`job event --job ${entry.delegate_job_id} --registry-dir ${jobsDir} --event started`);
    expect(lines[0]!.endsWith(`Task: ${job}`)).toBe(true);
    expect(eventsOf(pid).find((event) => event.event === 'artifact')).toBeTruthy();
  });

  it('stop --purge-conversation needs --yes; with it, deletes exactly that conversation and nothing else', async () => {
    const ws = await workspace(`purge-${kind}`);
    // Another conversation of the same agent in the same place (same project / same day / same store).
    const other = await conversationOutsideMam(kind, ws);
    const hour = Date.now() / 1000 - 3600;
    await utimes(other.file, hour, hour); // old: reconcile must not take it for the new session's
    const created = await create(kind, `purge-${kind}`);
    const mine = await prompt(created.name, created.pid, 'a conversation to purge');
    expect(mine.id).not.toBe(other.id);
    expect(path.dirname(mine.file)).toBe(path.dirname(other.file));
    expect(await reconcileRecords(created.name)).toMatchObject({ conversation_id: mine.id });

    // without --yes: refused, nothing done
    const registryBefore = registryText();
    const filesBefore = artifactFiles();
    const refused = await mamRun(['stop', '--session', created.name, '--purge-conversation']);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/--yes/);
    expect(registryText()).toBe(registryBefore);
    expect(artifactFiles()).toEqual(filesBefore);
    expect(alive(created.pid)).toBe(true);

    // with --yes
    const purge = await mamRun(['stop', '--session', created.name, '--purge-conversation', '--yes']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toMatch(new RegExp(`^terminated ${created.name} \\(exit-keys\\); purged `));
    expect(alive(created.pid)).toBe(false);
    const filesAfter = artifactFiles();
    const removed = [...filesBefore.keys()].filter((file) => !filesAfter.has(file));
    expect(removed).toEqual([mine.file]);
    for (const [file, hash] of filesAfter) expect(filesBefore.get(file), file).toBe(hash);
    expect(existsSync(other.file)).toBe(true);
    const entry = entryOf(created.name);
    expect(entry).toMatchObject({ status: 'terminated', termination_mode: 'purge', resumable: false, [ID_FIELD[kind]]: mine.id });
    expect(entry.terminated_at).toBeTruthy();
    expect(entry.terminated_at_epoch).toEqual(expect.any(Number));
    // and a second purge is a no-op
    const again = await mamRun(['stop', '--session', created.name, '--purge-conversation', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^already terminated \(/);
  });
});
