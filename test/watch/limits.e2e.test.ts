import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { WatchWorld } from '../helpers/watch-world.js';

/**
 * A usage limit as the real `mam watch` handles it for an entry that did not ask for auto-resume (docs/status.md,
 * 'Usage limits'): a stand-in agent runs `mam hook` as its child with the environment `mam create` gives it; the
 * reset passes, the watcher looks, and leaves the agent limited. The send itself: test/claude/limits.test.ts.
 */
let world: WatchWorld;
const SID = '7b2e3d4f-3333-4c8e-9f00-2a6b1c3d4e5f';

beforeEach(async () => {
  world = await WatchWorld.create('mam-limit-watch-', { MAM_LOG_LEVEL: 'info', MAM_SESSION: 'w-creator-claude' });
  world.env = { ...world.env, MAM_REGISTRY: world.box.registry };
});

afterEach(() => world.dispose());

const mainFact = (): Promise<{ status?: string; limit?: { until: string | null; resume_sent_at: string | null } | null } | undefined> => world.mainFact(SID);

describe('mam watch at a usage limit reset', () => {
  it('records the registry with the session, and leaves an agent whose entry has no auto_resume limited past the reset', async () => {
    await world.box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${world.box.root}, status: running, claude_session_id_own: ${SID}}\n`);
    const { hook } = world.startAgent({ session_id: SID, cwd: '/w' });
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'x' });
    const reset = Math.ceil(Date.now() / 1000) + 2;
    await hook({ hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: `API Error: Request rejected (429) · Claude AI usage limit reached|${reset}` });
    expect(await mainFact()).toMatchObject({ status: 'limited', limit: { until: new Date(reset * 1000).toISOString(), resume_sent_at: null } });
    const session = JSON.parse(await readFile(path.join(world.statusDir, `${SID}.session.json`), 'utf8')) as { mam_session: string; mam_registry: string };
    expect(session).toMatchObject({ mam_session: 'w-creator-claude', mam_registry: world.box.registry });

    const log = (): Promise<string> => world.log();
    await until(async () => (await log()).includes('its entry does not ask for auto_resume'), 'the watcher to look at the reset', 60_000, { detail: log });
    expect(Date.now()).toBeGreaterThanOrEqual(reset * 1000);
    expect(await mainFact()).toMatchObject({ status: 'limited', limit: { resume_sent_at: null } });
    expect(await log()).not.toMatch(/sent \\"/);
  });
});
