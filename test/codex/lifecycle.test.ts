import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentSteps } from '../helpers/agent-lifecycle.js';
import { codexProblem } from './codex-home.js';
import { CODEX, startCodexSession, type CodexSession } from './fixture.js';
import type { ScriptStep } from './model-server.js';

/**
 * The session lifecycle on the real Codex CLI (scripted model, no hooks): mam create → prompt → the rollout Codex
 * writes → reconcile records its id (class C) → an approval dialog seen on the pane → mam stop by Codex's exit keys →
 * mam resume into the same conversation with `codex resume <id>` → stop → delete; and a purge that deletes exactly that
 * conversation's files.
 */
const problem = codexProblem();
if (problem) console.warn(`skipping the real-Codex tests: ${problem}`);

const script = (workspace: string): ScriptStep[] => [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
  { trigger: 'say cherry', reply: { text: 'CHERRY-REPLY-7' } },
  {
    trigger: 'make a file',
    // Outside the sandbox, so Codex asks first (approval policy on-request).
    reply: { call: { name: 'exec_command', arguments: { cmd: `touch ${path.join(workspace, 'made')}`, sandbox_permissions: 'require_escalated', justification: 'May I make a file?' } } },
    then: { text: 'FILE-MADE' },
  },
];

let session: CodexSession | undefined;

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

/** Every rollout under `sessions/`, as Codex files them: `YYYY/MM/DD/rollout-<local time>-<id>.jsonl`. */
async function rollouts(codexHome: string): Promise<string[]> {
  const root = path.join(codexHome, 'sessions');
  const found = (await readdir(root, { recursive: true }).catch(() => [] as string[])).filter((file) => /(^|\/)rollout-[^/]+\.jsonl$/.test(file));
  return found.map((file) => path.join(root, file)).sort();
}

const idOf = (rollout: string): string => /rollout-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-(.+)\.jsonl$/.exec(rollout)![1]!;

describe.skipIf(problem !== undefined)('session lifecycle on the real Codex CLI', () => {
  const steps = agentSteps(CODEX, () => session!);
  const { entry, run } = steps;

  it('create → prompt → id from the rollout (class C) → approval on the pane → stop by its exit keys → resume the same conversation → stop → delete', async () => {
    session = await startCodexSession({ prefix: 'mam-codex-life-', serverTag: 'cxlife', workspace: 'landing-page', script });
    const { workspace, name, codexHome } = session;

    const fresh = await steps.create();
    // mam starts Codex without its shared background server, so the agent and all it runs live in the pane.
    expect(fresh).toMatchObject({ agent: 'codex', workspace, status: 'running', start_command: 'codex --no-daemon', start_argv: ['codex', '--no-daemon'], codex_session_id_own: null, pane: { cmd: 'codex', cwd: workspace } });
    await steps.idle();
    // Codex writes no rollout before the first prompt.
    expect(await rollouts(codexHome)).toEqual([]);

    await steps.say('please say banana', 'BANANA-REPLY-42', 'the scripted reply');
    const [rollout, ...more] = await rollouts(codexHome);
    expect(more).toEqual([]);
    const id = idOf(rollout!);
    // The first line is session_meta, naming the thread and the launch cwd, as src/agents/codex.ts reads it.
    const meta = JSON.parse((await readFile(rollout!, 'utf8')).split('\n')[0]!) as { type: string; payload: { id: string; cwd: string; cli_version: string } };
    expect(meta).toMatchObject({ type: 'session_meta', payload: { id, cwd: workspace } });
    await steps.recordsId(id);

    // An approval dialog, and no hooks installed: the pane says it.
    await steps.approvedOnPane('please make a file', 'FILE-MADE');

    // Graceful stop: Codex's exit keys (Ctrl-C twice, /quit) end it within the exit-keys rung.
    await steps.stopsGracefully(fresh!.pane!.pid!, id);

    // Resume: `codex --no-daemon resume <id>`, the same conversation, continued in the same rollout.
    await steps.resumes(id, ['codex', '--no-daemon', 'resume', id], 'BANANA-REPLY-42', 'now say cherry', 'CHERRY-REPLY-7', rollout!);
    const text = await readFile(rollout!, 'utf8');
    expect(text).toContain('BANANA-REPLY-42');
    expect(text).toContain('CHERRY-REPLY-7');
    // session_meta is written once: resuming appends to the file.
    expect(text.split('\n').filter((line) => line.includes('"type":"session_meta"'))).toHaveLength(1);
    expect(await rollouts(codexHome)).toEqual([rollout]);
    expect(await entry(name)).toMatchObject({ status: 'running', codex_session_id_own: id, resumed_at: expect.any(String) });

    await steps.stopsAndDeletes();
  });

  it('stop --purge-conversation --yes deletes exactly that conversation\'s files', async () => {
    session = await startCodexSession({ prefix: 'mam-codex-purge-', serverTag: 'cxpurge', script, create: true });
    const { server, name, codexHome } = session;
    await steps.say('please say banana', 'BANANA-REPLY-42');
    const [own] = await rollouts(codexHome);
    const id = idOf(own!);
    expect((await run('reconcile', '--once', '--tmux-server', server)).code).toBe(0);
    expect(await entry(name)).toMatchObject({ codex_session_id_own: id });
    // What 0.171 keeps for the thread besides its rollout: shell snapshots named after it.
    const snapshots = path.join(codexHome, 'shell_snapshots');
    const ownSnapshots = (await readdir(snapshots)).filter((file) => file.startsWith(`${id}.`));
    expect(ownSnapshots.length).toBeGreaterThan(0);

    // Another conversation in the same day directory, with its own snapshot: it must survive.
    const otherId = `${id.slice(0, 9)}0000-7000-8000-000000000000`;
    const bystander = path.join(path.dirname(own!), path.basename(own!).replace(id, otherId));
    await copyFile(own!, bystander);
    await writeFile(path.join(snapshots, `${otherId}.1.sh`), '# another thread\n');
    // Files every thread shares (prompt history, thread names, Codex's databases) are Codex's: never deleted.
    const shared = ['history.jsonl', 'session_index.jsonl', 'config.toml', 'state_5.sqlite'].map((file) => path.join(codexHome, file));
    for (const file of shared) expect((await stat(file)).isFile(), file).toBe(true);

    await steps.purges(() => rollouts(codexHome), [own!, bystander].sort(), [bystander]);
    expect((await readdir(snapshots)).sort()).toEqual([`${otherId}.1.sh`]);
    for (const file of shared) expect((await stat(file)).isFile(), file).toBe(true);
    await steps.purged();
  });
});
