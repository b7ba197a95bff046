import type { AgentLauncher } from '../agents/types.js';
import { UsageError } from '../util/errors.js';
import type { TmuxOptions, TmuxServer } from '../tmux/client.js';
import { waitFor } from '../util/wait.js';
import { countToken, decide, defaultToken, messageStage, messageTail, PANE_TIMEOUTS, squash, type Stage } from './policy.js';
import { capturePaneById, paneInfo, pressKeys, screenLines, typeText } from '../tmux/panes.js';

/**
 * Delivery receipts: text typed into an agent's pane is followed through `queued → sent → submitted`
 * by looking at the pane (the templates' "grep the token in the pane buffer", docs/pane.md), with the retries of
 * `policy.ts`. The target is a pane id or an exact session target (`=name:`), so sessions and panes
 * share it.
 */
export interface DeliveryTarget {
  readonly server: TmuxServer;
  readonly target: string;
  readonly tmux: TmuxOptions;
}

export interface Receipt {
  readonly ok: boolean;
  readonly stage: Stage;
  readonly attempts: number;
  readonly token: string;
  /** Why it failed, or how it was confirmed. */
  readonly detail: string;
  readonly ms: number;
}

export interface MessageRequest {
  readonly text: string;
  /** A substring of `text` to look for; default: the start of its first non-blank line. */
  readonly token?: string | undefined;
  readonly launcher: Pick<AgentLauncher, 'readyPattern' | 'collapsedInput'>;
  /** false: type and press Enter, confirm nothing (`--no-verify`). */
  readonly verify: boolean;
  readonly timeouts?: Partial<typeof PANE_TIMEOUTS>;
}

const POLL_MS = 100;

/** The line under the cursor, and the screen with the cursor position (Enter in a plain program only moves the cursor). */
async function cursorView(pane: DeliveryTarget): Promise<{ cursorLine: string; alive: boolean; screen: string }> {
  const info = await paneInfo(pane.server, pane.target, pane.tmux);
  if (!info || info.dead) return { cursorLine: '', alive: false, screen: '' };
  const lines = (await screenLines(pane.server, pane.target, pane.tmux)) ?? [];
  return { cursorLine: lines[info.cursorY] ?? '', alive: true, screen: `${info.cursorX},${info.cursorY}\n${lines.join('\n')}` };
}

async function history(pane: DeliveryTarget): Promise<string> {
  return (await capturePaneById(pane.server, pane.target, true, pane.tmux)) ?? '';
}

/** Waits (bounded) for an agent with a known prompt to show it, so text is not typed into a turn in progress. */
export async function waitIdle(pane: DeliveryTarget, launcher: Pick<AgentLauncher, 'readyPattern'>, timeoutMs: number): Promise<boolean> {
  const pattern = launcher.readyPattern;
  if (!pattern) return true;
  return waitFor(async () => pattern.test((await capturePaneById(pane.server, pane.target, false, pane.tmux)) ?? ''), timeoutMs, POLL_MS);
}

export async function deliverMessage(pane: DeliveryTarget, request: MessageRequest): Promise<Receipt> {
  const started = Date.now();
  const timeouts = { ...PANE_TIMEOUTS, ...request.timeouts };
  const token = request.token ?? defaultToken(request.text);
  if (squash(request.text) === '') throw new UsageError('pane send: the message is empty');
  if (!squash(request.text).includes(squash(token)) || squash(token) === '') {
    throw new UsageError(`pane send: --token ${JSON.stringify(token)} does not occur in the message; the receipt looks for the token in the pane, so it must be part of what is typed`);
  }
  const tail = messageTail(request.text);
  const receipt = (ok: boolean, stage: Stage, attempts: number, detail: string): Receipt => ({ ok, stage, attempts, token, detail, ms: Date.now() - started });

  if (!(await cursorView(pane)).alive) return receipt(false, 'queued', 0, `pane ${pane.target} is gone or its agent has exited; nothing was typed`);
  await waitIdle(pane, request.launcher, timeouts.idleBeforeSend);
  const earlier = await history(pane);
  const tokensBefore = countToken(earlier, token);
  const tailsBefore = countToken(earlier, tail);

  let attempt = 0;
  let next: 'type' | 'enter' = 'type';
  for (;;) {
    attempt += 1;
    let stage: Stage = 'queued';
    let alive = true;
    if (next === 'type') {
      if (!(await typeText(pane.server, pane.target, request.text, pane.tmux))) return receipt(false, 'queued', attempt, `tmux refused the keys for pane ${pane.target} (gone?)`);
      await waitFor(async () => {
        const seen = await cursorView(pane);
        alive = seen.alive;
        const tails = countToken(await history(pane), tail);
        stage = messageStage({ cursorLine: seen.cursorLine, tail, collapsed: request.launcher.collapsedInput, tails, tailsBefore, tokens: 0, tokensBefore, enterPressed: false, changedSinceEnter: false });
        return stage !== 'queued' || !alive;
      }, timeouts.shown, POLL_MS);
      if (!request.verify) {
        await pressKeys(pane.server, pane.target, [{ key: 'Enter' }], pane.tmux);
        return receipt(true, stage, attempt, 'typed and Enter pressed; not verified (--no-verify)');
      }
      if (stage === 'queued') {
        const decision = decide(attempt, { operation: 'message', stage, paneAlive: alive });
        if (decision.action === 'fail') return receipt(false, stage, attempt, decision.reason);
        continue;
      }
    }
    const typed = (await cursorView(pane)).screen;
    await pressKeys(pane.server, pane.target, [{ key: 'Enter' }], pane.tmux);
    stage = 'sent';
    await waitFor(async () => {
      const seen = await cursorView(pane);
      alive = seen.alive;
      if (!alive) return true;
      const tokens = countToken(await history(pane), token);
      stage = messageStage({ cursorLine: seen.cursorLine, tail, collapsed: request.launcher.collapsedInput, tails: 0, tailsBefore, tokens, tokensBefore, enterPressed: true, changedSinceEnter: seen.screen !== typed });
      return stage === 'submitted';
    }, timeouts.submitted, POLL_MS);
    const decision = decide(attempt, { operation: 'message', stage, paneAlive: alive });
    if (decision.action === 'done') return receipt(true, stage, attempt, `token ${JSON.stringify(token)} seen in pane ${pane.target}, input taken`);
    if (decision.action === 'fail') return receipt(false, stage, attempt, decision.reason);
    next = decision.how === 'retype' ? 'type' : 'enter';
  }
}

/**
 * Types a slash command (as keys, not `-l`), presses Enter in its own call, and waits for `confirms` to
 * show once more than it did before: that is the agent saying it applied the command.
 */
export async function runSlashCommand(pane: DeliveryTarget, command: string, confirms: RegExp, timeoutMs: number = PANE_TIMEOUTS.submitted): Promise<boolean> {
  const global = new RegExp(confirms.source, confirms.flags.includes('g') ? confirms.flags : `${confirms.flags}g`);
  const count = (text: string): number => text.match(global)?.length ?? 0;
  const before = count(await history(pane));
  const tail = messageTail(command);
  if (!(await pressKeys(pane.server, pane.target, [{ text: command }], pane.tmux))) return false;
  // Enter before the TUI has the text would submit half a command (or nothing).
  await waitFor(async () => squash((await cursorView(pane)).cursorLine).includes(tail), PANE_TIMEOUTS.shown, POLL_MS);
  await pressKeys(pane.server, pane.target, [{ key: 'Enter' }], pane.tmux);
  return waitFor(async () => count(await history(pane)) > before, timeoutMs, POLL_MS);
}
