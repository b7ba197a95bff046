import { describe, expect, it } from 'vitest';
import { agy } from '../../src/agents/agy.js';
import { claude } from '../../src/agents/claude.js';
import { codex } from '../../src/agents/codex.js';
import { gemini } from '../../src/agents/gemini.js';
import {
  classifyPane,
  combineActivity,
  NEW_PANE_TRACK,
  PANE_IDLE_DEBOUNCE_MS,
  PANE_MAX_CAPTURE_GAP_MS,
  PANE_MIN_CAPTURE_GAP_MS,
  paneDue,
  stepPane,
  wantsPane,
  type PaneSample,
  type PaneTrack,
} from '../../src/watch/pane.js';

/**
 * The pane fallback's pure core: literal screens (docs/agents.md, 'Pane patterns'; docs/claude-harness.md)
 * through classifyPane, and the tracker's debounce, rate limit and back-off on a fake clock.
 */

const RULE = '─'.repeat(60);
const NBSP = '\u00a0';

// ── Claude Code (observed screens, and the harness's tmux screens of 2.1.197) ──
const CLAUDE_BUSY = `╭───────────────────────────────────────╮
│ ✻ Welcome to Claude Code!             │
╰───────────────────────────────────────╯

> fix the flaky test

⏺ On it.

✶ Deliberating… (4s · ↓ 120 tokens · esc to interrupt)

${RULE}
❯${NBSP}
${RULE}
  ⏵⏵ bypass permissions on · esc to interrupt
`;

const CLAUDE_BASH_DIALOG = `● I'll run the tests.

Bash command

  npm test
  Run unit tests

Do you want to proceed?
❯ 1. Yes
  2. Yes, and don't ask again for npm test commands in /home/u/x
  3. No, and tell Claude what to do differently (esc)

Enter to select · ↑/↓ to navigate · Esc to cancel
`;

/** The harness's 2.1.197 dialog: option 3 is a bare `No`, the footer differs. */
const CLAUDE_BASH_DIALOG_197 = `Bash command

  touch f && sleep 4
  Create a marker file

Do you want to proceed?
❯ 1. Yes
  2. Yes, and always allow access to ws/ from this project
  3. No

Esc to cancel · Tab to amend · ctrl+e to explain
`;

const CLAUDE_EDIT_DIALOG = `Edit file
╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌
 about.tsx
 12  -  <h1>About</h1>
 12  +  <h1>About us</h1>
╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌
 Do you want to make this edit to about.tsx?
 ❯ 1. Yes
   2. Yes, allow all edits during this session (shift+tab)
   3. No, and tell Claude what to do differently (esc)
`;

const CLAUDE_IDLE = `● Done: the test is fixed.

✻ Crunched for 0s

${RULE}
❯${NBSP}
${RULE}
  ? for shortcuts                       tmux focus-events off · add 'set -g focus-events on' to ~/.tmux.conf
`;

// ── Codex (codex-rs approval_overlay.rs strings) ──
const CODEX_BUSY = `• Explored
  └ Read flaky.test.ts

• Working (12s • esc to interrupt)

› Ask Codex to do anything

  ? for shortcuts                                                       47% context left
`;

const CODEX_APPROVAL = `• Running pnpm exec playwright test

  Would you like to run the following command?
  Reason: May I rerun the browser tests outside the sandbox?
  $ pnpm exec playwright test

› 1. Yes, proceed (y)
  2. Yes, and don't ask again for this command (p)
  3. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel
`;

const CODEX_IDLE = `• Fixed the race in flaky.test.ts.

› Ask Codex to do anything

  ? for shortcuts                                                       47% context left
`;

// ── Gemini CLI (ToolConfirmationMessage.tsx strings in its boxed layout) ──
const GEMINI_APPROVAL = `╭──────────────────────────────────────────────────────╮
│ ?  Shell npm test                                    │
│                                                      │
│ npm test                                             │
│                                                      │
│ Allow execution of: 'npm'?                           │
│                                                      │
│ ● 1. Allow once                                      │
│   2. Allow for this session                          │
│   3. No, suggest changes (esc)                       │
╰──────────────────────────────────────────────────────╯
`;

const GEMINI_IDLE = `✦ The test passes now.

╭──────────────────────────────────────────────────────╮
│ >   Type your message or @path/to/file               │
╰──────────────────────────────────────────────────────╯
~/x                    no sandbox                 gemini-2.5-pro (98% context left)
`;

const GEMINI_BUSY = `⠋ Reticulating splines... (esc to cancel, 12s)

╭──────────────────────────────────────────────────────╮
│ >   Type your message or @path/to/file               │
╰──────────────────────────────────────────────────────╯
`;

describe('classifyPane on the documented screens', () => {
  it.each([
    ['Claude busy', claude, CLAUDE_BUSY, 'working'],
    ['Claude Bash dialog', claude, CLAUDE_BASH_DIALOG, 'needs_approval'],
    ['Claude Bash dialog (2.1.197)', claude, CLAUDE_BASH_DIALOG_197, 'needs_approval'],
    ['Claude edit dialog', claude, CLAUDE_EDIT_DIALOG, 'needs_approval'],
    ['Claude idle prompt box', claude, CLAUDE_IDLE, 'waiting'],
    ['Codex busy', codex, CODEX_BUSY, 'working'],
    ['Codex approval', codex, CODEX_APPROVAL, 'needs_approval'],
    ['Codex idle', codex, CODEX_IDLE, 'waiting'],
    ['Gemini approval', gemini, GEMINI_APPROVAL, 'needs_approval'],
    ['Gemini busy', gemini, GEMINI_BUSY, 'working'],
    ['Gemini idle', gemini, GEMINI_IDLE, 'waiting'],
  ] as const)('%s → %s', (_name, kind, screen, expected) => {
    expect(classifyPane(kind.panePatterns, screen)).toBe(expected);
  });

  it('the Claude dialog with the cursor moved to another option is still an approval', () => {
    const moved = CLAUDE_BASH_DIALOG.replace('❯ 1. Yes\n  2.', '  1. Yes\n❯ 2.').replace(/\n\nEnter to select.*\n/, '\n');
    expect(classifyPane(claude.panePatterns, moved)).toBe('needs_approval');
  });

  it('Claude: busy hints are looked for around the prompt box, not in what is typed into it', () => {
    const typed = CLAUDE_IDLE.replace(`❯${NBSP}`, '❯ why does esc to interrupt not work?');
    expect(classifyPane(claude.panePatterns, typed)).toBe('waiting');
    // Without a box the same words do count (a screen where the box is scrolled away or not drawn yet).
    expect(classifyPane(claude.panePatterns, 'why does esc to interrupt not work?\n')).toBe('working');
  });

  it('Claude: the footer under the box counts (it is drawn by Claude), and a plain `*` spinner frame does too', () => {
    // 2.1.197 before the model's first token: the spinner frame is a `*`, the footer says how to interrupt.
    const waitingForModel = `❯ please slow start\n\n* Hyperspacing…\n${RULE}\n❯${NBSP}\n${RULE}\n  esc to interrupt · ← for agents`;
    expect(classifyPane(claude.panePatterns, waitingForModel)).toBe('working');
    expect(classifyPane(claude.panePatterns, waitingForModel.replace('* Hyperspacing…', ''))).toBe('working');
    expect(classifyPane(claude.panePatterns, waitingForModel.replace('  esc to interrupt · ← for agents', ''))).toBe('working');
    // The prompt put back after Esc: the box holds the text, nothing around it is busy.
    const putBack = `❯ please reject me\n\n${RULE}\n❯ please slow start\n${RULE}\n                    ● high · /effort`;
    expect(classifyPane(claude.panePatterns, putBack)).toBe('waiting');
  });

  it('Claude: a usage limit\'s error just above the prompt box is `limited`; the same error further up is history', () => {
    // 2.1.197 with an API key, as test/claude/limits.test.ts sees it.
    const limited = `❯ please hit the limit\n\n● API Error: Request rejected (429) · Claude AI usage limit reached|1796286153\n\n✻ Cogitated for 1s\n\n${RULE}\n❯${NBSP}\n${RULE}\n  ? for shortcuts · ← for agents`;
    expect(classifyPane(claude.panePatterns, limited)).toBe('limited');
    expect(classifyPane(claude.panePatterns, limited.replace(/● API Error.*/, "● You've hit your session limit · resets 3pm (Europe/Berlin)"))).toBe('limited');
    // Continued since: the reply and its footer sit between the error and the box.
    const continued = limited.replace('✻ Cogitated for 1s', '✻ Cogitated for 1s\n\n❯ continue\n\n● Picking up where I left off.\n\n✻ Brewed for 1s');
    expect(classifyPane(claude.panePatterns, continued)).toBe('waiting');
    // A limit never hides an open dialog or a busy turn.
    expect(classifyPane(claude.panePatterns, `● API Error: Request rejected (429) · rate limited\n${CLAUDE_BASH_DIALOG}`)).toBe('needs_approval');
  });

  it("Claude: its own finished message ending in an ellipsis is not a spinner (● and ⏺ start Claude's text)", () => {
    const screen = CLAUDE_IDLE.replace('● Done: the test is fixed.', '● Looking into it…');
    expect(classifyPane(claude.panePatterns, screen)).toBe('waiting');
  });

  it('a question far up in the conversation does not make an idle screen an approval', () => {
    const history = Array.from({ length: 30 }, (_, index) => `  line ${index} of the answer`).join('\n');
    const screen = `Do you want to proceed?\n❯ 1. Yes\n${history}\n${CLAUDE_IDLE}`;
    expect(classifyPane(claude.panePatterns, screen)).toBe('waiting');
    expect(classifyPane(claude.panePatterns, `${history}\n${CLAUDE_BASH_DIALOG}`)).toBe('needs_approval');
  });

  it('ANSI colour codes and carriage returns (capture-pane -e, raw terminals) are stripped before matching', () => {
    const coloured = CODEX_APPROVAL.replace('Would you like', '\x1b[1;36mWould\x1b[0m you\x1b]0;title\x07 like').replace(/\n/g, '\r\n');
    expect(classifyPane(codex.panePatterns, coloured)).toBe('needs_approval');
  });

  it('garbage and undecodable bytes on screen are unreadable, not an error', () => {
    const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x80, 0xc3, 0x28, 0x0a, 0xe2, 0x82]).toString('utf8');
    for (const kind of [claude, codex, gemini, agy]) expect(classifyPane(kind.panePatterns, garbage.repeat(500))).toBeUndefined();
    expect(classifyPane(codex.panePatterns, `${garbage}\n${CODEX_APPROVAL}`)).toBe('needs_approval');
  });

  it('screens are per agent: a Codex dialog means nothing to Claude, and agy has no patterns at all', () => {
    expect(classifyPane(claude.panePatterns, CODEX_APPROVAL)).toBeUndefined();
    expect(classifyPane(codex.panePatterns, CLAUDE_IDLE)).toBe('waiting'); // `? for shortcuts`: both say it
    for (const screen of [CLAUDE_BUSY, CODEX_APPROVAL, GEMINI_IDLE]) expect(classifyPane(agy.panePatterns, screen)).toBeUndefined();
    expect(classifyPane(codex.panePatterns, '')).toBeUndefined();
  });
});

describe('stepPane: debounce, rate limit, back-off', () => {
  const T0 = 1_700_000_000_000;
  const patterns = codex.panePatterns;
  const screen = (text: string): PaneSample => ({ screen: text });

  /** Steps through samples at the given times; returns each step's status and the gap to the next capture. */
  function run(samples: readonly [number, PaneSample | undefined][], start: PaneTrack = NEW_PANE_TRACK) {
    let track = start;
    return samples.map(([at, sample]) => {
      const step = stepPane(track, patterns, sample, T0 + at);
      track = step.track;
      return { status: step.status, gap: step.nextCaptureAt - (T0 + at), track };
    });
  }

  it('idle is reported only after the idle-looking screen stayed the same for the debounce', () => {
    const steps = run([
      [0, screen(CODEX_IDLE)],
      [PANE_IDLE_DEBOUNCE_MS - 1, screen(CODEX_IDLE)],
      [PANE_IDLE_DEBOUNCE_MS, screen(CODEX_IDLE)],
    ]);
    expect(steps.map((step) => step.status)).toEqual([undefined, undefined, 'waiting']);
  });

  it('a busy agent turning idle stays working until its screen has been still for the debounce', () => {
    const steps = run([
      [0, screen(CODEX_BUSY)],
      [2_000, screen(CODEX_IDLE)],
      [3_000, screen(CODEX_IDLE)],
      [4_000, screen(CODEX_IDLE)],
    ]);
    expect(steps.map((step) => step.status)).toEqual(['working', 'working', 'working', 'waiting']);
  });

  it('a usage limit on screen counts at once, not debounced into waiting', () => {
    const screen = `● API Error: Request rejected (429) · Claude AI usage limit reached|1796286153\n\n${RULE}\n❯${NBSP}\n${RULE}\n  ? for shortcuts`;
    const first = stepPane(NEW_PANE_TRACK, claude.panePatterns, { screen }, 0);
    expect(first.status).toBe('limited');
    expect(stepPane(first.track, claude.panePatterns, { screen }, 60_000).status).toBe('limited');
  });

  it('an approval dialog counts at once, and its `since` is the first time it was seen', () => {
    const steps = run([
      [0, screen(CODEX_IDLE)],
      [2_000, screen(CODEX_IDLE)],
      [4_000, screen(CODEX_APPROVAL)],
      [6_000, screen(CODEX_APPROVAL)],
      [10_000, screen(CODEX_APPROVAL)],
    ]);
    expect(steps.map((step) => step.status)).toEqual([undefined, 'waiting', 'needs_approval', 'needs_approval', 'needs_approval']);
    expect(steps.slice(2).map((step) => step.track.since)).toEqual([T0 + 4_000, T0 + 4_000, T0 + 4_000]);
  });

  it('an answered dialog is working at once (the screen moved), then waiting once still', () => {
    const answered = CODEX_IDLE.replace('Fixed the race', 'Ran the tests');
    const steps = run([
      [0, screen(CODEX_APPROVAL)],
      [2_000, screen(answered)],
      [4_000, screen(answered)],
    ]);
    expect(steps.map((step) => step.status)).toEqual(['needs_approval', 'working', 'waiting']);
  });

  it('typing into the prompt of a waiting agent keeps it waiting', () => {
    const typing = CODEX_IDLE.replace('› Ask Codex to do anything', '› refactor the');
    const steps = run([
      [0, screen(CODEX_IDLE)],
      [2_000, screen(CODEX_IDLE)],
      [4_000, screen(typing)],
    ]);
    expect(steps.map((step) => step.status)).toEqual([undefined, 'waiting', 'waiting']);
  });

  it('a first capture is due at once, the next not before the minimum gap', () => {
    expect(paneDue(NEW_PANE_TRACK, T0)).toBe(true);
    const [first] = run([[0, screen(CODEX_BUSY)]]);
    expect(first!.gap).toBe(PANE_MIN_CAPTURE_GAP_MS);
    expect(paneDue(first!.track, T0 + PANE_MIN_CAPTURE_GAP_MS - 1)).toBe(false);
    expect(paneDue(first!.track, T0 + PANE_MIN_CAPTURE_GAP_MS)).toBe(true);
  });

  it('no sample (not due) changes nothing', () => {
    const [first] = run([[0, screen(CODEX_APPROVAL)]]);
    const step = stepPane(first!.track, patterns, undefined, T0 + 500);
    expect(step.track).toBe(first!.track);
    expect(step.status).toBe('needs_approval');
  });

  it('a still screen backs off 2 → 4 → 8 → 16 → 30 → 30 s; a working one keeps the minimum gap', () => {
    let at = 0;
    const gaps: number[] = [];
    let track = NEW_PANE_TRACK;
    for (let index = 0; index < 6; index += 1) {
      const step = stepPane(track, patterns, screen(CODEX_IDLE), T0 + at);
      track = step.track;
      gaps.push(step.nextCaptureAt - (T0 + at));
      at = step.nextCaptureAt - T0;
    }
    // The first capture has nothing to compare with: it counts as a change.
    expect(gaps).toEqual([2_000, 4_000, 8_000, 16_000, PANE_MAX_CAPTURE_GAP_MS, PANE_MAX_CAPTURE_GAP_MS]);

    const busy = run([
      [0, screen(CODEX_BUSY)],
      [2_000, screen(CODEX_BUSY)],
      [4_000, screen(CODEX_BUSY)],
    ]);
    expect(busy.map((step) => step.gap)).toEqual([2_000, 2_000, 2_000]);
  });

  it('any change resets the back-off to the minimum gap', () => {
    const steps = run([
      [0, screen(CODEX_IDLE)],
      [2_000, screen(CODEX_IDLE)],
      [6_000, screen(CODEX_IDLE)],
      [14_000, screen(CODEX_IDLE)],
      [30_000, screen(CODEX_IDLE.replace('Ask Codex', 'Ask me'))],
      [32_000, screen(CODEX_IDLE.replace('Ask Codex', 'Ask me'))],
    ]);
    expect(steps.map((step) => step.gap)).toEqual([2_000, 4_000, 8_000, 16_000, 2_000, 4_000]);
    // Still idle-looking after the change (something typed at the prompt): waiting throughout.
    expect(steps.slice(1).map((step) => step.status)).toEqual(['waiting', 'waiting', 'waiting', 'waiting', 'waiting']);
  });

  it('a still approval dialog is not backed off: its answer shows within one minimum gap', () => {
    const steps = run([
      [0, screen(CODEX_APPROVAL)],
      [2_000, screen(CODEX_APPROVAL)],
      [4_000, screen(CODEX_APPROVAL)],
    ]);
    expect(steps.map((step) => step.gap)).toEqual([2_000, 2_000, 2_000]);
  });

  it('a pane that vanished is unknown and asked again later, backing off', () => {
    const steps = run([
      [0, screen(CODEX_APPROVAL)],
      [2_000, 'gone'],
      [6_000, 'gone'],
    ]);
    expect(steps.map((step) => step.status)).toEqual(['needs_approval', undefined, undefined]);
    expect(steps.map((step) => step.gap)).toEqual([2_000, 4_000, 8_000]);
    expect(steps[1]!.track.digest).toBeUndefined();
  });

  it('an agent without patterns (agy): a moving screen is working, a still one waiting after the debounce', () => {
    let track = NEW_PANE_TRACK;
    const statuses = [
      [0, 'agy> thinking 1'],
      [2_000, 'agy> thinking 2'],
      [4_000, 'agy> done\n> '],
      [4_000 + PANE_IDLE_DEBOUNCE_MS, 'agy> done\n> '],
    ].map(([at, text]) => {
      const step = stepPane(track, agy.panePatterns, { screen: text as string }, T0 + (at as number));
      track = step.track;
      return step.status;
    });
    expect(statuses).toEqual([undefined, 'working', 'working', 'waiting']);
  });

  it('trailing spaces and blank lines do not count as a change', () => {
    const steps = run([
      [0, screen(CODEX_IDLE)],
      [2_000, screen(`${CODEX_IDLE.replace(/\n/g, '   \n')}\n\n\n`)],
    ]);
    expect(steps[1]!.track.changedAt).toBe(T0);
    expect(steps[1]!.status).toBe('waiting');
  });
});

describe('hooks and pane, one answer', () => {
  it('hooks win, except an approval only the screen shows; the pane fills in when no hook reports', () => {
    expect(combineActivity('working', 'waiting')).toEqual({ activity: 'working', source: 'hooks' });
    expect(combineActivity('working', 'needs_approval')).toEqual({ activity: 'needs_approval', source: 'pane' });
    expect(combineActivity('needs_approval', 'needs_approval')).toEqual({ activity: 'needs_approval', source: 'hooks' });
    expect(combineActivity(undefined, 'waiting')).toEqual({ activity: 'waiting', source: 'pane' });
    expect(combineActivity(undefined, undefined)).toEqual({ activity: null, source: null });
  });

  it('the pane is looked at without hooks, and for Codex also with them (its approvals fire no hook)', () => {
    expect(wantsPane(claude.panePatterns, undefined)).toBe(true);
    expect(wantsPane(claude.panePatterns, 'working')).toBe(false);
    expect(wantsPane(codex.panePatterns, 'working')).toBe(true);
    expect(wantsPane(codex.panePatterns, 'needs_approval')).toBe(false);
    expect(wantsPane(agy.panePatterns, undefined)).toBe(true);
  });
});
