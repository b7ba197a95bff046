import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ShownCard } from '../helpers/hermes-cli.js';
import { until, untilValue } from '../helpers/until.js';
import { cardReportCommand, claudeLaneEachTest, reportCompleted, WRITE_NOTES } from './lane-card.js';
import type { MessagesRequest, Reply } from './model-server.js';
import { capture } from './tmux-screen.js';

/**
 * The lane's approval block with the real Claude Code CLI (scripted model, docs/claude-harness.md): Claude asks to run
 * a command nobody answers; the wait is commented once with the tool and command, and after `approval_block` (small,
 * through the card's settings) the card is blocked needs_input. A person unblocks it: the next run re-attaches to the
 * same Claude, the person approves at the terminal, and Claude's completion ends the card done.
 */
const LOOK = { intervalMs: 300 } as const;

const claudeLane = claudeLaneEachTest();

function model(): (request: MessagesRequest) => Reply | undefined {
  let report = '';
  let phase = 'idle';
  return (request) => {
    if (request.kind !== 'main') return undefined;
    if (request.toolResults.length === 0) {
      const command = cardReportCommand(request);
      if (!command) return undefined;
      report = command;
      phase = 'started';
      return { toolUse: { name: 'Bash', input: { command: `${report} --event started`, description: 'Report the start' } } };
    }
    switch (phase) {
      case 'started':
        phase = 'edit';
        // Nobody answers its approval for a while.
        return WRITE_NOTES;
      case 'edit':
        phase = 'reporting';
        return reportCompleted(report, 'notes.txt written after the unblock');
      default:
        return { text: 'Done.' };
    }
  };
}

describe('an approval nobody answers, with the real Claude Code CLI', () => {
  it('is commented once, blocks the card needs_input, and after an unblock the same Claude goes on to done', async () => {
    const { session, hermes, show, createCard } = await claudeLane.start({ prefix: 'mam-claude-lane-approval-', serverTag: 'clapp', workspace: 'app', hooks: true, script: () => model() });
    const { box, workspace, server } = session;
    const id = await createCard('write the notes', 'Write notes.txt.\ninterval: 1s\napproval_alert: 2s\napproval_block: 6s');
    const target = (): string => `=${id}-claude:`;
    expect((await hermes(['kanban', 'dispatch', '--json'])).code).toBe(0);
    const approvalComments = (card: ShownCard) => card.comments.filter((comment) => /waiting \d+ (?:s|min) for approval/.test(comment.body));

    const blocked = await untilValue(async () => {
      // Should Claude ask about the report command after all, a person lets it through: only the edit is waited on.
      const screen = await capture(box, server, target()).catch(() => '');
      if (/Do you want to proceed\?/.test(screen) && /job event/.test(screen) && !/echo hello/.test(screen)) await box.tmux(server, 'send-keys', '-t', target(), 'Enter');
      const card = await show(id);
      return card.task.status === 'blocked' ? card : undefined;
    }, 'the needs_input block', 300_000, LOOK);
    expect(approvalComments(blocked)).toHaveLength(1);
    expect(approvalComments(blocked)[0]!.body).toContain('Bash: echo hello > notes.txt');
    expect(blocked.comments.at(-1)!.body).toMatch(/^BLOCKED: claude has waited \d+ (?:s|min) for approval \(Bash: echo hello > notes\.txt\) and nobody is attached/);
    expect(existsSync(path.join(workspace, 'notes.txt'))).toBe(false);
    const claudePid = (await box.tmux(server, 'display-message', '-p', '-t', target(), '#{pane_pid}')).trim();

    // A person unblocks; the next run re-attaches, and the person answers the dialog at the terminal.
    expect((await hermes(['kanban', 'unblock', id])).code).toBe(0);
    await until(async () => {
      const card = await show(id);
      if (card.task.status === 'ready') await hermes(['kanban', 'dispatch', '--json']);
      return card.task.status === 'running' && card.events.filter((event) => event.kind === 'heartbeat').length > 0;
    }, 'the next run', 180_000, LOOK);
    await until(async () => {
      const screen = await capture(box, server, target()).catch(() => '');
      if (/Do you want to proceed\?/.test(screen) && /echo hello/.test(screen)) await box.tmux(server, 'send-keys', '-t', target(), 'Enter');
      return existsSync(path.join(workspace, 'notes.txt'));
    }, 'the approved edit', 180_000, LOOK);
    // The same Claude as before the block: re-attached, not started again.
    expect((await box.tmux(server, 'display-message', '-p', '-t', target(), '#{pane_pid}')).trim()).toBe(claudePid);
    const done = await untilValue(async () => ((await show(id)).task.status === 'done' ? show(id) : undefined), 'the card done', 240_000, LOOK);
    expect(JSON.stringify(done)).toContain('notes.txt written after the unblock');
    // Two runs, and the one wait told once across both.
    expect(done.runs.length).toBeGreaterThanOrEqual(2);
    expect(approvalComments(done)).toHaveLength(1);
  }, 900_000);
});

