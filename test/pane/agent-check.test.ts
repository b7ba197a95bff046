import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { agentKind, type AgentKind } from '../../src/agents/index.js';
import { checkAgentInPane, foregroundProcess } from '../../src/pane/agent-check.js';

/** Whether a pane runs the agent spawn started, before anything is typed into it: the pure decision, and /proc. */

const claude = agentKind('claude')!;
const codex = agentKind('codex')!;
const CLAUDE_PROMPT = '❯ \n? for shortcuts\n';

/** `screen` null: not looked at (undefined would take the default, an empty screen). */
const check = (kind: AgentKind, paneCommand: string, argv: string[] | undefined, exe: string | undefined, screen: string | null = '') =>
  checkAgentInPane(kind, { paneCommand, process: argv === undefined ? undefined : { argv, exe }, screen: screen ?? undefined });

describe('checkAgentInPane', () => {
  it('the agent itself: its own name, its version-number title, a native binary, or node running its script', () => {
    expect(check(claude, 'claude', ['claude'], '/usr/local/bin/claude', CLAUDE_PROMPT)).toEqual({ ok: true });
    expect(check(claude, '2.1.197', ['2.1.197'], '/usr/bin/node', CLAUDE_PROMPT)).toEqual({ ok: true });
    expect(check(codex, 'node', ['node', '/usr/local/bin/codex'], '/usr/bin/node')).toEqual({ ok: true });
    expect(check(codex, 'codex', ['codex', '--yolo'], '/opt/codex/codex')).toEqual({ ok: true });
  });

  it('a script named after the agent that its interpreter runs (a wrapper or stand-in) counts as the agent', () => {
    expect(check(claude, 'sh', ['/bin/sh', '/home/me/bin/claude'], '/usr/bin/dash', CLAUDE_PROMPT)).toEqual({ ok: true });
  });

  it('an interactive shell is refused, even under the agent\'s name (a `codex` that is really bash)', () => {
    expect(check(codex, 'bash', ['bash'], '/usr/bin/bash')).toMatchObject({ ok: false, reason: expect.stringMatching(/^the pane runs a shell \(bash: bash\), not codex at its prompt$/) });
    expect(check(codex, 'codex', ['codex'], '/usr/bin/bash')).toMatchObject({ ok: false, reason: expect.stringContaining('runs a shell (bash: codex)') });
    expect(check(codex, '-zsh', ['-zsh'], '/bin/zsh')).toMatchObject({ ok: false, reason: expect.stringContaining('a shell (zsh') });
    // A shell running some other script is not the agent either.
    expect(check(claude, 'sh', ['/bin/sh', '/tmp/setup.sh'], '/usr/bin/dash', CLAUDE_PROMPT)).toMatchObject({ ok: false });
  });

  it('without /proc, tmux\'s command name decides: a shell is refused, the agent accepted', () => {
    expect(check(codex, 'bash', undefined, undefined)).toMatchObject({ ok: false, reason: expect.stringContaining('a shell (bash)') });
    expect(check(codex, 'codex', undefined, undefined)).toEqual({ ok: true });
  });

  it('another program is refused, named', () => {
    expect(check(codex, 'vim', ['vim', 'notes.txt'], '/usr/bin/vim')).toEqual({ ok: false, reason: 'the pane runs vim notes.txt, not codex' });
  });

  it('an agent with a known prompt must be showing it', () => {
    expect(check(claude, 'claude', ['claude'], '/usr/local/bin/claude', 'Welcome to Claude Code\n')).toMatchObject({ ok: false, reason: expect.stringContaining("claude's prompt") });
    // Not looked at: the process alone decides.
    expect(check(claude, 'claude', ['claude'], '/usr/local/bin/claude', null)).toEqual({ ok: true });
  });
});

describe('foregroundProcess', () => {
  it('reads the foreground process of a real process from /proc; undefined once it is gone', async () => {
    const child = spawn('sleep', ['100000'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const seen = foregroundProcess(child.pid!);
      // No terminal: the process itself (tpgid -1) is what is read.
      expect(seen?.argv).toEqual(['sleep', '100000']);
      expect(seen?.exe).toMatch(/sleep$/);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => child.once('exit', resolve));
    await expect.poll(() => foregroundProcess(child.pid!), { timeout: 30_000 }).toBeUndefined();
  });
});
