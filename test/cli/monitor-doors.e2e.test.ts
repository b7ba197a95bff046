import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Doors, HERMES, LOOK, tellsGone } from '../helpers/monitor-doors.js';
import { mam } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Every way a person or Hermes starts the monitor: the original `hermes kanban create … --assignee default
 * --skill agent-sessions-monitor`, a card configured by comment, and an LLM worker that loaded the skill. Runs that
 * last days (hand-overs) are in monitor-doors-multiday.e2e.test.ts; the set-up both share is test/helpers/monitor-doors.ts.
 */

let t: Doors;
beforeEach(async () => {
  t = await Doors.create();
});
afterEach(async () => {
  await t.dispose();
});

describe('every Hermes door reaches the monitor', () => {
  it("the original dispatch command, assigned to `default`, is run by mam and stopped by a person's `stop`", async () => {
    const { server, settings } = await t.watched();
    // Whatever reaches the real hermes is recorded: for this card, nothing must.
    const handedOff = path.join(t.box.root, 'handed-off');
    await writeFile(path.join(t.bin, 'real-hermes'), `#!/bin/sh\ncase "$1" in kanban) ;; *) echo "$*" >> '${handedOff}';; esac\nexec '${HERMES}' "$@"\n`);
    await chmod(path.join(t.bin, 'real-hermes'), 0o755);
    t.env = { ...t.env, MAM_HERMES_BIN: path.join(t.bin, 'real-hermes') };
    const body = `You are the agent-sessions monitor. Every 30 seconds, reconcile the registry below.\n\n${settings}\n`;
    const id = await t.createCard(['agent-sessions monitor', '--assignee', 'default', '--goal', '--goal-max-turns', '100', '--max-runtime', '8h', '--max-retries', '1', '--skill', 'agent-sessions-monitor', '--body', body]);

    expect((await t.hermes(['kanban', 'dispatch', '--json'])).code).toBe(0);
    await until(async () => (await t.show(id)).events.some((event) => event.kind === 'heartbeat'), 'the first heartbeat', 180_000, LOOK);
    await t.box.killSession(server, 'w-creator-claude');
    await until(async () => (await t.show(id)).comments.some(tellsGone('w-creator-claude')), 'the drift comment', 180_000, LOOK);
    // A person on the root profile comments as `default` too, the worker's own author: still a stop request.
    const card = await t.stopAndExpectBlocked(id);
    expect(card.comments.filter(tellsGone('w-creator-claude'))).toHaveLength(1);
    expect(await readFile(handedOff, 'utf8').catch(() => '')).toBe('');
  });

  it('a card with an unfilled template is blocked asking for a `registry:` comment, which then configures it', async () => {
    const { server, settings } = await t.watched();
    await mkdir(path.join(t.hermesHome, 'profiles', 'mam-monitor'), { recursive: true });
    const id = await t.createCard(['agent-sessions monitor', '--assignee', 'mam-monitor', '--goal', '--goal-max-turns', '1000', '--body', 'registry: {{registry}}\ninterval: {{interval}}\nheartbeat: {{heartbeat}}']);
    await t.hermes(['kanban', 'dispatch', '--json']);
    const blocked = await untilValue(async () => ((await t.show(id)).task.status === 'blocked' ? t.show(id) : undefined), 'the block for a missing registry', 180_000, LOOK);
    const reason = blocked.comments.at(-1)!.body;
    expect(reason).toMatch(/^BLOCKED: no registry configured and none found: comment `registry: \/absolute\/path\/\.hermes\/agent-sessions\.yaml` on this card/);
    expect(reason).toContain('then unblock it');
    expect(reason).not.toContain('{{');

    // The advice, followed as written on Hermes's own CLI.
    expect((await t.hermes(['kanban', 'comment', id, `please watch this one\n${settings}`])).code).toBe(0);
    expect((await t.hermes(['kanban', 'unblock', id])).code).toBe(0);
    await t.hermes(['kanban', 'dispatch', '--json']);
    await until(async () => (await t.show(id)).events.filter((event) => event.kind === 'heartbeat').length >= 2, 'heartbeats of the configured run', 180_000, LOOK);
    await t.box.killSession(server, 'x-creator-claude');
    await until(async () => (await t.show(id)).comments.some(tellsGone('x-creator-claude')), 'the drift comment', 180_000, LOOK);
    await t.stopAndExpectBlocked(id);
  });

  it('an LLM worker that loaded the skill runs the one command SKILL.md gives it, exactly as written', async () => {
    const { server, settings } = await t.watched();
    expect((await mam(['skills', 'install', '--hermes-home', t.hermesHome], t.env)).code).toBe(0);
    // The stand-in LLM: it reads the installed SKILL.md's LLM-worker section, runs its command verbatim in the
    // foreground, records the exit code, and ends its turn, as the skill tells it to.
    const llm = path.join(t.bin, 'llm-worker');
    await writeFile(
      llm,
      [
        '#!/bin/bash',
        `skill="$HERMES_HOME/skills/agent-sessions-monitor/SKILL.md"`,
        `command=$(awk '/^## If you are an LLM worker/{s=1} s && /^\`\`\`sh$/{f=1; next} f && /^\`\`\`/{exit} f' "$skill")`,
        `printf '%s\\n' "$command" > '${path.join(t.box.root, 'llm-command')}'`,
        'bash -c "$command"',
        `echo "rc=$?" >> '${path.join(t.box.root, 'llm-exit')}'`,
        'exit 0',
      ].join('\n'),
    );
    await chmod(llm, 0o755);
    t.env = { ...t.env, HERMES_BIN: llm };
    const id = await t.createCard(['agent-sessions monitor', '--assignee', 'default', '--goal', '--goal-max-turns', '1000', '--skill', 'agent-sessions-monitor', '--body', settings]);
    await t.hermes(['kanban', 'dispatch', '--json']);
    await until(async () => (await t.show(id)).events.some((event) => event.kind === 'heartbeat'), 'the first heartbeat', 180_000, LOOK);
    expect((await readFile(path.join(t.box.root, 'llm-command'), 'utf8')).trim()).toBe('mam monitor --card "$HERMES_KANBAN_TASK"');
    await t.box.killSession(server, 'w-creator-claude');
    await until(async () => (await t.show(id)).comments.some(tellsGone('w-creator-claude')), 'the drift comment', 180_000, LOOK);
    await t.stopAndExpectBlocked(id);
    expect(await untilValue(async () => (await readFile(path.join(t.box.root, 'llm-exit'), 'utf8').catch(() => '')).trim(), 'the LLM worker to see the exit', 180_000, LOOK)).toBe('rc=0');
    // The card is left as the program left it: blocked on the stop, nothing written by the LLM.
    expect((await t.show(id)).task.status).toBe('blocked');
  });
});
