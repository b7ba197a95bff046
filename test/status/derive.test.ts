import { describe, expect, it } from 'vitest';
import { applyHook, sessionStatus, type Facts, type HookPayload } from '../../src/status/derive.js';

/** The reference's fixture scenarios (agent-artifacts §6), driven event by event through the pure core. */
const T0 = Date.parse('2026-11-22T10:00:00Z');
const SID = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';

function run(events: HookPayload[]): { facts: Facts; statuses: (string | undefined)[] } {
  let facts: Facts = { session: undefined, agents: {} };
  const statuses: (string | undefined)[] = [];
  events.forEach((event, index) => {
    const applied = applyHook(facts, { session_id: SID, cwd: '/w', ...event }, { now: T0 + index * 1000, agent: 'claude', mamSession: 'w-creator-claude', pid: 100 });
    facts = applied.ended ? { session: undefined, agents: {} } : applied.facts;
    statuses.push(sessionStatus(facts.agents));
  });
  return { facts, statuses };
}

const bash = { tool_name: 'Bash', tool_input: { command: 'npm test', description: 'Run unit tests' } };

describe('hook events → status', () => {
  it('1. a plain turn: waiting → working → working → waiting', () => {
    expect(
      run([
        { hook_event_name: 'SessionStart', source: 'startup' },
        { hook_event_name: 'UserPromptSubmit', prompt: 'run the tests' },
        { hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_1' },
        { hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: 'toolu_1' },
        { hook_event_name: 'Stop' },
      ]).statuses,
    ).toEqual(['waiting', 'working', 'working', 'working', 'waiting']);
  });

  it('2. an approval: PermissionRequest (no tool_use_id) matches the open tool by name and input', () => {
    const { facts, statuses } = run([
      { hook_event_name: 'UserPromptSubmit' },
      { hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_read' },
      { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_bash' },
      { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { description: 'Run unit tests', command: 'npm test' } },
    ]);
    expect(statuses.at(-1)).toBe('needs_approval');
    expect(facts.agents['main']!.tools['toolu_bash']).toMatchObject({ status: 'needs_approval', command: 'npm test' });
    expect(facts.agents['main']!.tools['toolu_read']!.status).toBe('working');
    expect(facts.agents['main']!.needs_approval_since).toBe('2026-11-22T10:00:03.000Z');
    // Granted: the tool runs and completes; the turn ends.
    const after = run([
      { hook_event_name: 'UserPromptSubmit' },
      { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_bash' },
      { hook_event_name: 'PermissionRequest', ...bash },
      { hook_event_name: 'PostToolUse', ...bash, tool_use_id: 'toolu_bash' },
      { hook_event_name: 'Stop' },
    ]).statuses;
    expect(after).toEqual(['working', 'working', 'needs_approval', 'working', 'waiting']);
  });

  it('6. a subagent asking for approval makes the session need approval; SubagentStop removes it', () => {
    const { statuses, facts } = run([
      { hook_event_name: 'UserPromptSubmit' },
      { hook_event_name: 'SubagentStart', agent_id: 'af0b4a9aaa314d555', agent_type: 'Explore' },
      { hook_event_name: 'PreToolUse', agent_id: 'af0b4a9aaa314d555', ...bash, tool_use_id: 'toolu_sub' },
      { hook_event_name: 'PermissionRequest', agent_id: 'af0b4a9aaa314d555', ...bash },
      { hook_event_name: 'SubagentStop', agent_id: 'af0b4a9aaa314d555' },
      { hook_event_name: 'Stop' },
    ]);
    expect(statuses).toEqual(['working', 'working', 'working', 'needs_approval', 'working', 'waiting']);
    expect(Object.keys(facts.agents)).toEqual(['main']);
  });

  it('7. /clear: SessionEnd ends the old session, SessionStart(clear) reports the new id', () => {
    const ended = applyHook({ session: undefined, agents: {} }, { session_id: SID, hook_event_name: 'SessionEnd', reason: 'clear' }, { now: T0, agent: 'claude', mamSession: null, pid: 1 });
    expect(ended.ended).toBe(true);
    const started = applyHook({ session: undefined, agents: {} }, { session_id: 'new-id', hook_event_name: 'SessionStart', source: 'clear' }, { now: T0, agent: 'claude', mamSession: 'x', pid: 1 });
    expect(started.started).toEqual({ sessionId: 'new-id', source: 'clear' });
    expect(sessionStatus(started.facts.agents)).toBe('waiting');
  });

  it('9. StopFailure ends the turn; an interrupt reported on a running tool does too', () => {
    expect(run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'StopFailure', error: 'rate_limit' }]).statuses).toEqual(['working', 'waiting']);
    expect(
      run([
        { hook_event_name: 'UserPromptSubmit' },
        { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 't' },
        { hook_event_name: 'PostToolUseFailure', ...bash, tool_use_id: 't', is_interrupt: true },
      ]).statuses,
    ).toEqual(['working', 'working', 'waiting']);
  });

  it('maps Gemini events, and ignores Notification', () => {
    expect(
      run([
        { hook_event_name: 'BeforeAgent' },
        { hook_event_name: 'BeforeTool', tool_name: 'run_shell_command', tool_input: { command: 'ls' } },
        { hook_event_name: 'Notification', notification_type: 'ToolPermission', tool_name: 'run_shell_command', tool_input: { command: 'ls' } },
        { hook_event_name: 'AfterAgent' },
      ]).statuses,
    ).toEqual(['working', 'working', 'needs_approval', 'waiting']);
    expect(run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'Notification', notification_type: 'idle_prompt' }]).statuses).toEqual(['working', 'working']);
  });
});
