import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paneRecords } from '../../src/pane/record.js';
import { MAM, REPO, Sandbox } from '../helpers/sandbox.js';

const run = promisify(execFile);
const SESSION_ID = '3f2c1d9e-1111-4222-8333-444455556666';

/**
 * Every command of skills/tmux-agent-orchestrate/SKILL.md, run as written: its ```sh blocks in order — the
 * coordinator's (inside tmux: $TMUX and $TMUX_PANE of the master pane), the agent's (inside its own pane), the
 * coordinator's again — against a stand-in `claude` that answers like Claude 2.1.197 does where mam looks.
 */
let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create('mam-skill-pane-');
});
afterEach(async () => {
  await box.dispose();
});

function shBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe('skills/tmux-agent-orchestrate', () => {
  it('its workflow runs as written: spawn, send, report back, register, kill, rebalance', async () => {
    const blocks = shBlocks(await readFile(path.join(REPO, 'skills', 'tmux-agent-orchestrate', 'SKILL.md'), 'utf8'));
    expect(blocks).toHaveLength(3);
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'mam'), `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
    // Claude's idle hint (after every answer, as Claude shows it whenever idle), its confirmations of /color and /rename, /exit, and a live session with a transcript.
    await writeFile(
      path.join(bin, 'claude'),
      [
        '#!/bin/sh',
        'key=$(printf %s "$PWD" | sed "s/[^a-zA-Z0-9]/-/g")',
        'mkdir -p "$HOME/.claude/sessions" "$HOME/.claude/projects/$key"',
        `printf '{"pid":%s,"sessionId":"${SESSION_ID}"}' $$ > "$HOME/.claude/sessions/$$.json"`,
        `printf '{"type":"user","cwd":"%s","sessionId":"${SESSION_ID}"}\\n' "$PWD" > "$HOME/.claude/projects/$key/${SESSION_ID}.jsonl"`,
        "printf '? for shortcuts\\n'",
        'while IFS= read -r line; do',
        '  case "$line" in',
        '    /exit) exit 0 ;;',
        '    "/color "*) printf "  ⎿  Session color set to: %s\\n" "${line#/color }" ;;',
        '    "/rename "*) printf "  ⎿  Session renamed to: %s\\n" "${line#/rename }" ;;',
        '    *) printf "received: %s\\n" "$line" ;;',
        '  esac',
        "  printf '? for shortcuts\\n'",
        'done',
        '',
      ].join('\n'),
    );
    await chmod(path.join(bin, 'mam'), 0o755);
    await chmod(path.join(bin, 'claude'), 0o755);
    const workspace = await realpath(await mkdir(path.join(box.root, 'project'), { recursive: true }).then(() => path.join(box.root, 'project')));
    const server = box.serverName('skill');
    const PATH = `${bin}:${process.env['PATH']}`;
    // The master pane: `cat`, so the agent's report-back shows there and is confirmed.
    await box.startSession(server, 'main', workspace, 'cat');
    await box.tmux(server, 'set-environment', '-g', 'PATH', PATH);
    await box.tmux(server, 'set-environment', '-g', 'HOME', box.home);
    const [socket, pid] = (await box.tmux(server, 'display-message', '-p', '-t', '%0', '#{socket_path} #{pid}')).trim().split(' ');
    // A project with its own registry, which every mam command run inside it finds by walking up.
    const registry = path.join(workspace, '.hermes', 'agent-sessions.yaml');
    await box.writeRegistry('tmux_sessions: []\n', registry);
    const coordinator = box.env({ PATH, TMUX: `${socket},${pid},0`, TMUX_PANE: '%0' });
    const sh = async (script: string, env: NodeJS.ProcessEnv): Promise<string> => (await run('bash', ['-e', '-c', script], { env, cwd: workspace })).stdout;

    const spawned = await sh(blocks[0]!, coordinator);
    const pane = /spawned (%\d+)/.exec(spawned)?.[1];
    expect(pane).toBeDefined();
    const screen = await box.tmux(server, 'capture-pane', '-p', '-J', '-S', '-', '-t', pane!);
    expect(screen).toContain('Session color set to: green');
    expect(screen).toContain('Session renamed to: dev-agent');
    expect(screen).toContain(`received: TASK-001 | scope: tests 'unit' only; report "pass/fail" counts`);
    expect(screen).toContain('received: Also note flaky tests. TASK-002');

    await sh(blocks[1]!, { ...coordinator, TMUX_PANE: pane, MAM_SPAWNER_PANE: '%0', MAM_PANE_ROLE: 'dev' });
    expect(await box.tmux(server, 'capture-pane', '-p', '-t', '%0')).toContain(`STEP COMPLETE dev ${pane}: 42 passed, 0 failed`);
    expect(paneRecords(parseDocument(await readFile(registry, 'utf8')))).toEqual([
      expect.objectContaining({ pane_id: pane, role: 'dev', status: 'ready-to-close', report_back: true, task_done: true, session_id: SESSION_ID }),
    ]);

    const closed = await sh(blocks[2]!, { ...coordinator, NEW_PANE: pane });
    expect(closed).toContain(`closed ${pane} (exit-keys), layout rebalanced`);
    expect(closed).toContain('master %0 on the left');
    expect((await box.tmux(server, 'list-panes', '-t', '=main:', '-F', '#{pane_id}')).trim()).toBe('%0');
    expect(paneRecords(parseDocument(await readFile(registry, 'utf8')))).toEqual([expect.objectContaining({ pane_id: pane, status: 'closed', close_mode: 'exit-keys' })]);
  });
});
