import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive } from '../helpers/fake-agents.js';
import { KINDS, ID_FIELD, LAUNCH_ARGS, lifecycleEachTest } from '../helpers/lifecycle-e2e.js';

/**
 * `mam resume` when the recorded conversation cannot be continued: the agent says it is not found, or its artifact
 * is gone (with and without another conversation in the workspace). Set-up: test/helpers/lifecycle-e2e.ts.
 */

const { box, mamRun, entryOf, events, eventsOf, sessions, stoppedConversation, conversationOutsideMam } = lifecycleEachTest();

describe.each(KINDS)('mam lifecycle with a fake %s', (kind) => {
  it('resume when the agent says the conversation is not found starts fresh and says so', async () => {
    const stopped = await stoppedConversation(kind);
    // The artifact is still there (so mam picks tier 1), but the agent cannot load it.
    await mkdir(path.join(box().home, '.fake-agent'), { recursive: true });
    await writeFile(path.join(box().home, '.fake-agent', 'forget'), `${stopped.id}\n`);

    const result = await mamRun(['resume', '--session', stopped.name, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const resumed = JSON.parse(result.stdout) as { tier: string; conversationId: string | null; argv: string[]; note: string };
    expect(resumed).toMatchObject({ tier: 'fresh', conversationId: null, argv: [kind, ...LAUNCH_ARGS[kind]] });
    expect(resumed.note).toBe(`${kind} could not resume conversation ${stopped.id} (it says the conversation is gone); started fresh`);
    const starts = events().filter((event) => event.event === 'start').slice(1);
    expect(starts.map((event) => event.resume)).toEqual([stopped.id, null]);
    expect(events().filter((event) => event.event === 'not-found').map((event) => event.id)).toEqual([stopped.id]);
    const entry = entryOf(stopped.name);
    expect(entry).toMatchObject({ status: 'running', [ID_FIELD[kind]]: null, pane: { pid: starts[1]!.pid } });
    expect(alive(starts[1]!.pid)).toBe(true);
    expect(await sessions()).toEqual([stopped.name]);
  });
});

describe('mam lifecycle: bad inputs and odd states', () => {
  it('resume when the recorded artifact is gone and nothing else is on disk starts fresh and says so', async () => {
    const stopped = await stoppedConversation('agy');
    await rm(stopped.file);

    const result = await mamRun(['resume', '--session', stopped.name, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const resumed = JSON.parse(result.stdout) as { tier: string; conversationId: string | null; argv: string[]; note: string };
    expect(resumed).toMatchObject({ tier: 'fresh', conversationId: null, argv: ['agy'] });
    expect(resumed.note).toBe(`no conversation to resume (the artifact of ${stopped.id} is gone); started fresh`);
    const entry = entryOf(stopped.name);
    expect(entry).toMatchObject({ status: 'running', agy_conversation_id_own: null });
    expect(eventsOf(entry.pane!.pid!)[0]).toMatchObject({ event: 'start', args: [], resume: null });
  });

  it('resume when the recorded artifact is gone takes the newest conversation in the workspace (tier 2)', async () => {
    const stopped = await stoppedConversation('codex');
    await rm(stopped.file);
    // A conversation that happened in the workspace since, outside mam.
    const newer = await conversationOutsideMam('codex', stopped.ws, 'work done by hand meanwhile');

    const result = await mamRun(['resume', '--session', stopped.name, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const resumed = JSON.parse(result.stdout) as { tier: string; conversationId: string | null; argv: string[]; note: string };
    expect(resumed).toMatchObject({ tier: 'newest-artifact', conversationId: newer.id, argv: ['codex', '--no-daemon', 'resume', newer.id] });
    expect(resumed.note).toBe(`resumed conversation ${newer.id} (newest-artifact)`);
    const entry = entryOf(stopped.name);
    expect(entry).toMatchObject({ status: 'running', codex_session_id_own: newer.id });
    expect(eventsOf(entry.pane!.pid!).slice(0, 2)).toMatchObject([
      { event: 'start', args: ['--no-daemon', 'resume', newer.id] },
      { event: 'resumed', id: newer.id, file: newer.file },
    ]);
  });
});
