import { describe, expect, it } from 'vitest';
import { agentKind } from '../../src/agents/index.js';
import { applyHook, sessionStatus, type Facts, type HookPayload } from '../../src/facts/derive.js';

/** The scenarios of docs/status.md, 'Scenarios', driven event by event through the pure core. */
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
    expect(run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'StopFailure', error: 'server_error' }]).statuses).toEqual(['working', 'waiting']);
    // A rate or usage limit parks it: `limited`, with the reset when the text gives one.
    const limited = run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: "You've hit your session limit · resets 3pm (UTC)" }]);
    expect(limited.statuses).toEqual(['working', 'limited']);
    expect(limited.facts.agents['main']?.limit).toEqual({ until: '2026-11-22T15:00:00.000Z', message: "You've hit your session limit · resets 3pm (UTC)", resume_sent_at: null });
    expect(run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'StopFailure', error: 'rate_limit' }]).facts.agents['main']?.limit).toEqual({ until: null, message: null, resume_sent_at: null });
    expect(
      run([
        { hook_event_name: 'UserPromptSubmit' },
        { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 't' },
        { hook_event_name: 'PostToolUseFailure', ...bash, tool_use_id: 't', is_interrupt: true },
      ]).statuses,
    ).toEqual(['working', 'working', 'waiting']);
  });

  it('11. a Stop with background tasks still in flight keeps the agent working, listing them; the next prompt drops them', () => {
    const { facts, statuses } = run([
      { hook_event_name: 'UserPromptSubmit' },
      {
        hook_event_name: 'Stop',
        background_tasks: [
          { id: 'b1', type: 'shell', status: 'running', description: 'Sleep', command: 'sleep 12 && echo done' },
          { id: 'b2', type: 'local_agent', status: 'running', description: 'Look around' },
          { id: 'b3', type: 'shell', status: 'completed', command: 'true' },
        ],
      },
    ]);
    expect(statuses).toEqual(['working', 'working']);
    expect(facts.agents['main']?.background).toEqual(['shell: sleep 12 && echo done', 'local_agent: Look around']);
    expect(run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'Stop', background_tasks: [] }]).statuses).toEqual(['working', 'waiting']);
    expect(run([{ hook_event_name: 'Stop', background_tasks: [{ id: 'b1', type: 'shell', status: 'running', command: 'x' }] }, { hook_event_name: 'UserPromptSubmit' }]).facts.agents['main']?.background).toEqual([]);
  });

  it('maps Gemini events by the aliases its module declares, and ignores Notification', () => {
    expect(
      runAs('gemini', [
        { hook_event_name: 'BeforeAgent' },
        { hook_event_name: 'BeforeTool', tool_name: 'run_shell_command', tool_input: { command: 'ls' } },
        { hook_event_name: 'Notification', notification_type: 'ToolPermission', tool_name: 'run_shell_command', tool_input: { command: 'ls' } },
        { hook_event_name: 'AfterAgent' },
      ]).statuses,
    ).toEqual(['working', 'working', 'needs_approval', 'waiting']);
    expect(run([{ hook_event_name: 'UserPromptSubmit' }, { hook_event_name: 'Notification', notification_type: 'idle_prompt' }]).statuses).toEqual(['working', 'working']);
  });
});

/** Codex and Gemini payloads shaped as docs/agents.md gives them ('Codex', 'Gemini CLI'), through the same core. */
function runAs(agent: string, events: HookPayload[]): { facts: Facts; statuses: (string | undefined)[]; ended: boolean[] } {
  let facts: Facts = { session: undefined, agents: {} };
  const statuses: (string | undefined)[] = [];
  const ended: boolean[] = [];
  events.forEach((event, index) => {
    const applied = applyHook(facts, { session_id: SID, cwd: '/home/u/x', ...event }, { now: T0 + index * 1000, agent, mamSession: null, pid: 100, eventAliases: agentKind(agent)?.hooks?.eventAliases });
    facts = applied.ended ? { session: undefined, agents: {} } : applied.facts;
    statuses.push(sessionStatus(facts.agents));
    ended.push(applied.ended);
  });
  return { facts, statuses, ended };
}

describe('Codex hook events (Claude-compatible names)', () => {
  const codex = { turn_id: '019d8d5f-39fc-7000-8000-000000000001', transcript_path: '/home/u/.codex/sessions/2026/04/14/rollout-x.jsonl', model: 'gpt-5.4', permission_mode: 'default' };
  const rm = { tool_name: 'Bash', tool_input: { command: 'rm -f build/marker' } };
  const permission = { ...codex, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'rm -f build/marker', description: 'Remove the marker file?' } };

  it('an approved Bash command: PreToolUse, PermissionRequest (no tool_use_id), PostToolUse, Stop', () => {
    const { statuses, facts } = runAs('codex', [
      { ...codex, hook_event_name: 'SessionStart', source: 'startup' },
      { ...codex, hook_event_name: 'UserPromptSubmit', prompt: 'clean up' },
      { ...codex, hook_event_name: 'PreToolUse', ...rm, tool_use_id: 'call_abc' },
      permission,
    ]);
    expect(statuses).toEqual(['waiting', 'working', 'working', 'needs_approval']);
    // Matched to the open call by name and command, though the permission's input adds a description.
    expect(Object.keys(facts.agents['main']!.tools)).toEqual(['call_abc']);
    expect(facts.agents['main']!.tools['call_abc']).toMatchObject({ status: 'needs_approval', command: 'rm -f build/marker' });
    expect(facts.session).toMatchObject({ agent: 'codex', model: 'gpt-5.4' });
    const after = runAs('codex', [
      { ...codex, hook_event_name: 'UserPromptSubmit' },
      { ...codex, hook_event_name: 'PreToolUse', ...rm, tool_use_id: 'call_abc' },
      permission,
      { ...codex, hook_event_name: 'PostToolUse', ...rm, tool_use_id: 'call_abc', tool_response: '' },
      { ...codex, hook_event_name: 'Stop', stop_hook_active: false },
    ]).statuses;
    expect(after).toEqual(['working', 'working', 'needs_approval', 'working', 'waiting']);
  });

  it('a permission asked before the tool\'s PreToolUse is answered when the tool starts', () => {
    const { statuses, facts } = runAs('codex', [
      { ...codex, hook_event_name: 'UserPromptSubmit' },
      permission,
      { ...codex, hook_event_name: 'PreToolUse', ...rm, tool_use_id: 'call_abc' },
      { ...codex, hook_event_name: 'PostToolUse', ...rm, tool_use_id: 'call_abc' },
    ]);
    expect(statuses).toEqual(['working', 'needs_approval', 'working', 'working']);
    expect(facts.agents['main']!.tools).toEqual({});
  });

  it('StopFailure ends the turn; PreCompact and PostCompact say nothing', () => {
    expect(
      runAs('codex', [
        { ...codex, hook_event_name: 'UserPromptSubmit' },
        { ...codex, hook_event_name: 'PreCompact', trigger: 'auto' },
        { ...codex, hook_event_name: 'StopFailure', error: 'overloaded' },
      ]).statuses,
    ).toEqual(['working', 'working', 'waiting']);
  });
});

describe('Gemini CLI hook events (own names, mapped onto Claude\'s)', () => {
  const gemini = { transcript_path: '/home/u/.gemini/tmp/x/chats/session-2026-08-01T10-00-7d2c9f4e.jsonl', timestamp: '2026-11-22T10:00:00.000Z' };
  const ls = { tool_name: 'run_shell_command', tool_input: { command: 'ls -la', description: 'list' } };
  // Gemini asks first (the scheduler fires Notification while the call awaits approval, with the confirmation
  // details and no tool name), then runs the tool with BeforeTool / AfterTool once it is allowed.
  const askPermission = { ...gemini, hook_event_name: 'Notification', notification_type: 'ToolPermission', message: 'Tool Shell requires execution', details: { type: 'exec', title: 'Shell', command: 'ls -la', rootCommand: 'ls' } };

  it('a turn with an approved shell command: waiting → working → needs_approval → working → waiting, SessionEnd ends', () => {
    const { statuses, facts } = runAs('gemini', [
      { ...gemini, hook_event_name: 'SessionStart', source: 'startup' },
      { ...gemini, hook_event_name: 'BeforeAgent', prompt: 'list the files' },
      { ...gemini, hook_event_name: 'BeforeModel', llm_request: {} },
      askPermission,
    ]);
    expect(statuses).toEqual(['waiting', 'working', 'working', 'needs_approval']);
    expect(Object.values(facts.agents['main']!.tools)).toEqual([expect.objectContaining({ status: 'needs_approval', command: 'ls -la' })]);

    const whole = runAs('gemini', [
      { ...gemini, hook_event_name: 'SessionStart', source: 'startup' },
      { ...gemini, hook_event_name: 'BeforeAgent', prompt: 'list the files' },
      askPermission,
      { ...gemini, hook_event_name: 'BeforeTool', ...ls },
      { ...gemini, hook_event_name: 'AfterTool', ...ls, tool_response: { llmContent: 'a b', returnDisplay: 'a b' } },
      { ...gemini, hook_event_name: 'AfterAgent', prompt: 'list the files', prompt_response: 'Done.' },
      { ...gemini, hook_event_name: 'SessionEnd', reason: 'exit' },
    ]);
    expect(whole.statuses).toEqual(['waiting', 'working', 'needs_approval', 'working', 'working', 'waiting', undefined]);
    expect(whole.ended.at(-1)).toBe(true);
    expect(whole.ended.slice(0, -1).every((value) => !value)).toBe(true);
  });

  it('0.61\'s order, BeforeTool then Notification: the wait is the tool\'s own, and AfterTool ends it before AfterAgent', () => {
    const { statuses, facts } = runAs('gemini', [
      { ...gemini, hook_event_name: 'BeforeAgent', prompt: 'list the files' },
      { ...gemini, hook_event_name: 'BeforeTool', ...ls },
      askPermission,
    ]);
    expect(statuses).toEqual(['working', 'working', 'needs_approval']);
    expect(Object.values(facts.agents['main']!.tools)).toEqual([expect.objectContaining({ status: 'needs_approval', tool_name: 'run_shell_command', command: 'ls -la' })]);
    const after = runAs('gemini', [
      { ...gemini, hook_event_name: 'BeforeAgent', prompt: 'list the files' },
      { ...gemini, hook_event_name: 'BeforeTool', ...ls },
      askPermission,
      { ...gemini, hook_event_name: 'AfterTool', ...ls, tool_response: { llmContent: 'a b' } },
      { ...gemini, hook_event_name: 'AfterAgent', prompt_response: 'Done.' },
    ]);
    // The model answers the tool's result between AfterTool and AfterAgent: working, not needs_approval.
    expect(after.statuses).toEqual(['working', 'working', 'needs_approval', 'working', 'waiting']);
    expect(after.facts.agents['main']!.tools).toEqual({});
  });

  it('AfterTool of another input leaves a pending approval of the same tool waiting', () => {
    const { statuses } = runAs('gemini', [
      { ...gemini, hook_event_name: 'BeforeAgent', prompt: 'list the files' },
      { ...gemini, hook_event_name: 'BeforeTool', ...ls },
      askPermission,
      { ...gemini, hook_event_name: 'AfterTool', tool_name: 'run_shell_command', tool_input: { command: 'pwd' }, tool_response: {} },
    ]);
    expect(statuses.at(-1)).toBe('needs_approval');
  });

  it('a tool that needs no approval keeps the agent working; other notifications say nothing', () => {
    const { statuses, facts } = runAs('gemini', [
      { ...gemini, hook_event_name: 'BeforeAgent' },
      { ...gemini, hook_event_name: 'BeforeTool', tool_name: 'read_file', tool_input: { absolute_path: '/home/u/x/a' } },
      { ...gemini, hook_event_name: 'Notification', notification_type: 'Other', message: 'hello', details: {} },
      { ...gemini, hook_event_name: 'AfterTool', tool_name: 'read_file', tool_input: { absolute_path: '/home/u/x/a' }, tool_response: {} },
    ]);
    expect(statuses).toEqual(['working', 'working', 'working', 'working']);
    expect(facts.agents['main']!.tools).toEqual({});
  });
});
