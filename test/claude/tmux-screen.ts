import { waitFor } from '../../src/util/wait.js';
import type { Sandbox } from '../helpers/sandbox.js';

/** The visible pane as text, wrapped lines joined (`capture-pane -p -J`). */
export async function capture(box: Sandbox, server: string, target: string): Promise<string> {
  return box.tmux(server, 'capture-pane', '-p', '-J', '-t', target);
}

export class ScreenTimeout extends Error {
  constructor(
    message: string,
    readonly screen: string,
  ) {
    super(`${message}\n--- last screen ---\n${screen}\n--- end ---`);
  }
}

/**
 * Polls the pane every 100 ms until `predicate(screen)` holds; returns that screen. On timeout throws with the last
 * screen in the message, which is usually all it takes to see why.
 */
export async function waitForScreen(
  box: Sandbox,
  server: string,
  target: string,
  predicate: (screen: string) => boolean,
  timeoutMs = 30_000,
  what = 'screen condition',
): Promise<string> {
  let screen = '';
  const shown = await waitFor(
    async () => {
      try {
        screen = await capture(box, server, target);
        return predicate(screen);
      } catch (error) {
        // The pane may not exist yet or just went away; only give up at the deadline.
        screen = `(capture failed: ${(error as Error).message})`;
        return false;
      }
    },
    timeoutMs,
    100,
  );
  if (!shown) throw new ScreenTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`, screen);
  return screen;
}

const RULE = /^─{10,}\s*$/;

/**
 * Claude's idle prompt: a `❯` input line boxed by two `─` rules, nothing busy or asking on screen.
 * The idle prompt box is `❯ ` between two `─` rules, with `? for shortcuts` below (docs/claude-harness.md).
 */
export function isIdlePrompt(screen: string): boolean {
  const lines = screen.split('\n').map((line) => line.trimEnd());
  if (/esc to interrupt|ctrl\+c to interrupt|Do you want to|Esc to cancel/i.test(screen)) return false;
  for (let index = 1; index + 1 < lines.length; index += 1) {
    if (!lines[index]!.startsWith('❯')) continue;
    // The input may wrap onto more lines; the rules bracket the whole box.
    const above = lines.slice(0, index).reverse().findIndex((line) => line !== '' && !/^\s/.test(line));
    if (above === -1 || !RULE.test(lines[index - 1 - above]!)) continue;
    if (lines.slice(index + 1).some((line) => RULE.test(line))) return true;
  }
  return false;
}

/** Whether the prompt box is idle and empty (nothing typed yet). */
export function isEmptyIdlePrompt(screen: string): boolean {
  return isIdlePrompt(screen) && screen.split('\n').some((line) => /^❯\s*$/.test(line.replace(/\u00a0/g, ' ')));
}

/** Types `text` literally, then presses Enter in a separate call (so the TUI sees a paste, then a key). */
export async function typeLine(box: Sandbox, server: string, target: string, text: string): Promise<void> {
  await box.tmux(server, 'send-keys', '-t', target, '-l', text);
  await box.tmux(server, 'send-keys', '-t', target, 'Enter');
}
