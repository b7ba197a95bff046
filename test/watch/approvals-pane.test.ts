import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CachedRegistryReader } from '../../src/registry/store.js';
import { approvalWaits } from '../../src/watch/approvals.js';
import { PaneSampler } from '../../src/watch/pane-sampler.js';
import { capturePanes } from '../../src/tmux/capture.js';
import { Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * The monitor's approval waits with the pane fallback: real tmux on a private socket, a real registry and
 * fact files, the sampler on a fake clock with its captures counted.
 */

const CODEX_DIALOG = `  Would you like to run the following command?\\n  $ rm -rf build\\n\\n› 1. Yes, proceed (y)\\n  3. No, and tell Codex what to do differently (esc)\\n\\n  Press enter to confirm or esc to cancel\\n`;
const CLAUDE_ID = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';

let box: Sandbox;
let server: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-approvals-pane-');
  server = box.serverName('appr');
});
afterEach(async () => {
  await box.dispose();
});

async function waitForScreen(name: string, text: string): Promise<void> {
  await until(async () => (await box.tmux(server, 'capture-pane', '-p', '-t', `=${name}:`)).includes(text), `${name} to show ${text}`, 30_000);
}

describe('approvalWaits with panes', () => {
  it('counts a hookless Codex dialog on screen, keeps hooks first, and captures only what is due', async () => {
    const ws = path.join(box.root, 'ws');
    await box.startSession(server, 'w-creator-codex', ws, `printf '${CODEX_DIALOG}'; sleep 100000`);
    await box.startSession(server, 'w-creator-gemini', ws, `printf '  Type your message or @path/to/file\\n> '; sleep 100000`);
    await box.startSession(server, 'w-creator-claude', ws, `printf 'Do you want to proceed?\\n❯ 1. Yes\\n'; sleep 100000`);
    await waitForScreen('w-creator-codex', 'Press enter to confirm');
    await waitForScreen('w-creator-claude', 'proceed');
    const entry = (name: string, agent: string, extra = ''): string =>
      `  - {name: ${name}, agent: ${agent}, workspace: ${ws}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z${extra}}`;
    await box.writeRegistry(
      `tmux_sessions:\n${[entry('w-creator-codex', 'codex'), entry('w-creator-gemini', 'gemini'), entry('w-creator-claude', 'claude', `, claude_session_id_own: ${CLAUDE_ID}`), entry('w-stopped-codex', 'codex').replace('running', 'stopped')].join('\n')}\n`,
    );
    // Claude's hooks report it waiting on an approval since a known time: the hooks' answer, no capture.
    const facts = path.join(box.root, 'cache', 'mam', 'status');
    await mkdir(facts, { recursive: true });
    const hookSince = '2026-11-22T10:00:00.000Z';
    await writeFile(path.join(facts, `${CLAUDE_ID}.agent.main.json`), JSON.stringify({ status: 'needs_approval', tools: {}, agent_type: null, needs_approval_since: hookSince, updated_at: hookSince }));

    let now = Date.parse('2026-11-22T11:00:00.000Z');
    const captured: string[][] = [];
    const panes = new PaneSampler({
      now: () => now,
      capture: (tmuxServer, sessions) => {
        captured.push([...sessions]);
        return capturePanes(tmuxServer, sessions, { env: box.env() });
      },
    });
    const reader = new CachedRegistryReader();
    const env = box.env();

    const first = await approvalWaits(box.registry, reader, env, panes);
    expect(first.sort((a, b) => a.session.localeCompare(b.session))).toEqual([
      { session: 'w-creator-claude', since: hookSince },
      { session: 'w-creator-codex', since: new Date(now).toISOString() },
    ]);
    // Claude reports through hooks and the stopped entry is not running: only Codex and Gemini were captured.
    expect(captured).toEqual([['w-creator-codex', 'w-creator-gemini']]);

    // A pass a second later captures nothing and still tells the same wait, with the same start.
    now += 1_000;
    const second = await approvalWaits(box.registry, reader, env, panes);
    expect(captured).toHaveLength(1);
    expect(second.find((wait) => wait.session === 'w-creator-codex')?.since).toBe(new Date(now - 1_000).toISOString());

    // Without a sampler the monitor sees only what hooks report.
    expect(await approvalWaits(box.registry, reader, env)).toEqual([{ session: 'w-creator-claude', since: hookSince }]);
  });

  it('a registered running session whose tmux session is gone is no wait and no error', async () => {
    const ws = path.join(box.root, 'ws');
    await box.startSession(server, 'other', ws);
    await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-codex, agent: codex, workspace: ${ws}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z}\n`);
    const panes = new PaneSampler({ now: Date.now, tmux: { env: box.env() } });
    expect(await approvalWaits(box.registry, new CachedRegistryReader(), box.env(), panes)).toEqual([]);
  });
});
