import type { Sandbox } from '../helpers/sandbox.js';

// The screen helpers every real-agent harness shares, under the names these tests import them by.
export { capture, waitForScreen } from '../helpers/real-agent.js';

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
