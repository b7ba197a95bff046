import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ShownCard } from '../helpers/hermes-cli.js';
import { until, untilValue } from '../helpers/until.js';
import { cardReportCommand, claudeLaneEachTest, reportCompleted, WRITE_NOTES } from './lane-card.js';
import type { MessagesRequest, Reply } from './model-server.js';
import { capture } from './tmux-screen.js';

/**
 * The Kanban lane's main path with the real Claude Code CLI (scripted model, docs/claude-harness.md) and Hermes's
 * dispatcher (the stand-in in test/hermes, or a real launcher named by MAM_TEST_HERMES): a card assigned to
 * `claude-tmux` is dispatched to `mam` as HERMES_BIN; Claude reports through the job commands its first prompt names,
 * asks to run a command (the approval wait is commented on the card, then approved by a person at the terminal),
 * edits a file in the card's workspace, gets a person's comment typed in, and reports completed: the card is done
 * with its summary.
 */
const LOOK = { intervalMs: 300 } as const;
const claudeLane = claudeLaneEachTest();

/** The model's side of the card, step by step. */
function model(): (request: MessagesRequest) => Reply | undefined {
  let report = '';
  let phase = 'idle';
  return (request) => {
    if (request.kind !== 'main') return undefined;
    if (request.toolResults.length === 0) {
      const command = cardReportCommand(request);
      if (command) {
        report = command;
        phase = 'started';
        return { toolUse: { name: 'Bash', input: { command: `${report} --event started && ${report} --event progress --detail 'writing notes.txt'`, description: 'Report the start' } } };
      }
      if (/Comment from .* BANANA/.test(request.turnText)) {
        phase = 'banana';
        return { toolUse: { name: 'Bash', input: { command: 'echo BANANA >> notes.txt', description: 'Add the line the person asked for' } } };
      }
      return undefined;
    }
    switch (phase) {
      case 'started':
        phase = 'edit';
        return WRITE_NOTES;
      case 'edit':
        phase = 'waiting';
        return { text: 'Wrote notes.txt. Anything else? Comment on the card.' };
      case 'banana':
        phase = 'reporting';
        return reportCompleted(report, 'notes.txt has hello and BANANA');
      default:
        return { text: 'Done.' };
    }
  };
}

describe('a card assigned to claude-tmux, worked by the real Claude Code CLI', () => {
  it('is dispatched, edits a file, hears a comment, has its approval wait commented, and ends done with the summary', async () => {
    const { session, hermes, show, createCard } = await claudeLane.start({ prefix: 'mam-claude-lane-', serverTag: 'clane', workspace: 'app', hooks: true, script: () => model() });
    const { box, workspace, server } = session;
    const id = await createCard('write the notes', 'Write notes.txt.\ninterval: 1s\nheartbeat: 3s\napproval_alert: 2s\nprogress_every: 1s');
    const dispatched = Date.now();
    expect((await hermes(['kanban', 'dispatch', '--json'])).code).toBe(0);
    const target = `=${id}-claude:`;

    // The approval wait, commented with the tool and its command; then a person at the terminal approves it.
    const approval = await untilValue(async () => {
      // Should Claude ask about the report command after all, a person lets it through: only the edit is waited on.
      const screen = await capture(box, server, target).catch(() => '');
      if (/Do you want to proceed\?/.test(screen) && /job event/.test(screen) && !/echo hello/.test(screen)) await box.tmux(server, 'send-keys', '-t', target, 'Enter');
      return (await show(id)).comments.find((comment) => /waiting \d+ (?:s|min) for approval/.test(comment.body) && comment.body.includes('echo hello'));
    }, 'the approval comment', 240_000, LOOK);
    expect(approval.body).toContain('Bash: echo hello > notes.txt');
    expect(approval.body).toContain(`mam attach ${id}-claude`);
    const card = await show(id);
    expect(card.comments.some((comment) => comment.body.includes('Watch it live') && comment.body.includes(`tmux -L ${server} attach -t ${id}-claude`))).toBe(true);
    // Claude's progress report, as a comment (coalesced: it may trail the approval comment by an interval).
    await until(async () => (await show(id)).comments.some((comment) => /progress:[\s\S]*writing notes\.txt/.test(comment.body)), 'the progress comment', 120_000, LOOK);
    const heartbeatNotes = (shown: ShownCard): string[] => shown.events.filter((event) => event.kind === 'heartbeat').map((event) => String((event.payload as { note?: unknown } | null)?.note ?? ''));
    const waitingNote = new RegExp(`^claude in ${id}-claude: needs approval for \\d+ (?:s|min) \\(Bash: echo hello > notes\\.txt\\)`);
    await until(async () => heartbeatNotes(await show(id)).some((note) => waitingNote.test(note)), 'a heartbeat telling the approval wait', 120_000, LOOK);
    await box.tmux(server, 'send-keys', '-t', target, 'Enter');
    await until(async () => existsSync(path.join(workspace, 'notes.txt')), 'the file Claude writes', 120_000, LOOK);

    // A person's comment reaches Claude, which asks to run one more command, approved at the terminal.
    expect((await hermes(['kanban', 'comment', id, 'please add a line BANANA'])).code).toBe(0);
    await until(async () => {
      const screen = await capture(box, server, target);
      if (/Do you want to proceed\?/.test(screen) && /BANANA/.test(screen)) await box.tmux(server, 'send-keys', '-t', target, 'Enter');
      return (await readFile(path.join(workspace, 'notes.txt'), 'utf8').catch(() => '')).includes('BANANA');
    }, 'the comment to reach Claude and the line to be written', 240_000, LOOK);

    const done = await untilValue(async () => ((await show(id)).task.status === 'done' ? show(id) : undefined), 'the card done', 240_000, LOOK);
    expect(done.runs.at(-1)!.outcome).toBe('completed');
    expect(JSON.stringify(done)).toContain('notes.txt has hello and BANANA');
    expect(await readFile(path.join(workspace, 'notes.txt'), 'utf8')).toBe('hello\nBANANA\n');
    // Heartbeats carried the live status from Claude's hooks, the approval wait included.
    const notes = heartbeatNotes(done);
    expect(notes.some((note) => new RegExp(`^claude in ${id}-claude: (?:working|waiting for input)`).test(note))).toBe(true);
    console.log(`lane with claude: dispatch → done in ${Math.round((Date.now() - dispatched) / 1000)} s`);
  }, 900_000);
});
