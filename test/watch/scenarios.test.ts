import { describe, expect, it } from 'vitest';
import { applyHook, sessionStatus, type Facts, type HookPayload } from '../../src/facts/derive.js';
import type { LiveState } from '../../src/agents/types.js';
import type { AgentStatus } from '../../src/facts/schema.js';
import { approvalLineArrived, backgroundChange, backgroundCommands, commandRunning, pendingCommands, resolveFacts, SCREEN_CHECK_QUIET_MS, screenCheckWanted, screenEnds, screenWait, type Observation } from '../../src/watch/resolve.js';
import { parseTranscriptChunk, type TranscriptEvent } from '../../src/watch/transcript.js';

/**
 * The scenarios of docs/status.md, 'Scenarios', as hook payloads, transcript lines and process
 * observations, with the session status after every step. Hooks go through applyHook, as `mam hook` does
 * (recording the transcript's size); everything else through the watcher's pure core, as `mam watch` does.
 */
const T0 = Date.parse('2026-11-22T10:00:00Z');
const SID = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';
const REJECT = "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to tell you how to proceed.";

type Step =
  | { readonly hook: HookPayload }
  | { readonly lines: readonly unknown[]; readonly agent?: string; readonly dialogOpen?: boolean }
  | { readonly processes: readonly (readonly string[])[] }
  | { readonly screen: AgentStatus }
  | { readonly live: LiveState }
  | { readonly backgroundRunning: boolean }
  | { readonly dead: true };

class Simulation {
  facts: Facts = { session: undefined, agents: {} };
  private readonly transcripts = new Map<string, Buffer>();
  private readonly offsets = new Map<string, number>();
  private clock = T0;

  step(step: Step): string | undefined {
    this.clock += 1000;
    if ('hook' in step) {
      const applied = applyHook(
        this.facts,
        { session_id: SID, cwd: '/w', transcript_path: '/t.jsonl', ...step.hook },
        { now: this.clock, agent: 'claude', mamSession: 'w-creator-claude', pid: 100, pidStart: 7, transcriptSize: this.transcript('main').length, pane: PANE },
      );
      this.facts = applied.ended ? { session: undefined, agents: {} } : applied.facts;
    } else if ('lines' in step) {
      const key = step.agent ?? 'main';
      this.transcripts.set(key, Buffer.concat([this.transcript(key), Buffer.from(step.lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`).join(''))]));
      const events = this.read(key);
      // The watcher looks at the pane only when a line could end an approval wait.
      const dialogOpen = approvalLineArrived(this.facts, { [key]: events }) ? step.dialogOpen : undefined;
      this.resolve({ [key]: events }, new Set(), true, undefined, { dialogOpen });
    } else if ('processes' in step) {
      const running = new Set(pendingCommands(this.facts).flatMap(({ id, command }) => (commandRunning(command, step.processes) ? [id] : [])));
      this.resolve({}, running, true);
    } else if ('screen' in step) {
      this.resolve({}, new Set(), true, step.screen);
    } else if ('live' in step) {
      this.resolve({}, new Set(), true, undefined, { live: step.live });
    } else if ('backgroundRunning' in step) {
      this.resolve({}, new Set(), true, undefined, { backgroundRunning: step.backgroundRunning });
    } else {
      this.resolve({}, new Set(), false);
    }
    return sessionStatus(this.facts.agents);
  }

  run(steps: readonly Step[]): (string | undefined)[] {
    return steps.map((step) => this.step(step));
  }

  private transcript(key: string): Buffer {
    return this.transcripts.get(key) ?? Buffer.alloc(0);
  }

  /** What the watcher reads: from the larger of its own offset and the newest hook's. */
  private read(key: string): TranscriptEvent[] {
    const from = Math.max(this.offsets.get(key) ?? 0, key === 'main' ? (this.facts.session?.transcript_offset ?? 0) : 0);
    const parsed = parseTranscriptChunk(this.transcript(key).subarray(from), from);
    this.offsets.set(key, from + parsed.consumed);
    return parsed.events;
  }

  private resolve(transcript: Record<string, TranscriptEvent[]>, running: ReadonlySet<string>, alive: boolean, screen?: AgentStatus, background: Pick<Observation, 'live' | 'backgroundRunning' | 'dialogOpen'> = {}): void {
    const applied = resolveFacts(this.facts, { alive, transcript, running, screen, ...background }, this.clock);
    this.facts = applied.ended ? { session: undefined, agents: {} } : applied.facts;
  }
}

const PANE = { socket: '/tmp/tmux-1000/mam', id: '%3' };
const bash = { tool_name: 'Bash', tool_input: { command: 'touch out.txt && npm test', description: 'Run unit tests' } };
const user = (content: unknown, extra: Record<string, unknown> = {}): unknown => ({ type: 'user', message: { role: 'user', content }, ...extra });
const toolUse = (id: string, name = 'Bash'): unknown => ({ type: 'assistant', message: { content: [{ type: 'tool_use', id, name, input: {} }], stop_reason: 'tool_use' } });
const toolResult = (id: string, extra: Record<string, unknown> = {}, content = 'ok'): unknown => user([{ type: 'tool_result', tool_use_id: id, content, ...('is_error' in extra ? { is_error: extra['is_error'] } : {}) }], 'toolUseResult' in extra ? { toolUseResult: extra['toolUseResult'] } : {});
const turnDuration = { type: 'system', subtype: 'turn_duration', isMeta: false };
const rejected = (id: string): unknown[] => [toolUse(id), toolResult(id, { is_error: true, toolUseResult: 'User rejected tool use' }, REJECT), user([{ type: 'text', text: '[Request interrupted by user for tool use]' }], { toolUseResult: null }), turnDuration];

describe('fixture scenarios: hooks, transcript lines and processes → status', () => {
  it('1. a plain turn stays consistent when the transcript lines and the hooks interleave', () => {
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'SessionStart', source: 'startup' } },
        { hook: { hook_event_name: 'UserPromptSubmit', prompt: 'read a' } },
        { lines: [user('read a')] },
        { hook: { hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_r' } },
        { lines: [toolUse('toolu_r', 'Read'), toolResult('toolu_r')] },
        { hook: { hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: 'toolu_r' } },
        { lines: [{ type: 'assistant', message: { content: [{ type: 'text', text: 'done' }], stop_reason: 'end_turn' } }, turnDuration] },
        { hook: { hook_event_name: 'Stop' } },
      ]),
    ).toEqual(['waiting', 'working', 'working', 'working', 'working', 'working', 'waiting', 'waiting']);
  });

  it('2. approval granted: the command appears under the agent, wrapped and quoted by its shell → working at once', () => {
    const simulation = new Simulation();
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_b' } },
        { hook: { hook_event_name: 'PermissionRequest', ...bash } },
        // Something else running under the agent (its hook) is not the approved command.
        { processes: [['/usr/bin/node', '/x/mam', 'hook']] },
        { processes: [['/bin/bash', '-c', "source /tmp/snap.sh && eval 'touch out.txt && npm test' < /dev/null && pwd -P >| /tmp/cwd"]] },
        { hook: { hook_event_name: 'PostToolUse', ...bash, tool_use_id: 'toolu_b' } },
        { hook: { hook_event_name: 'Stop' } },
      ]),
    ).toEqual(['working', 'working', 'needs_approval', 'needs_approval', 'working', 'working', 'waiting']);
  });

  it('2b. approval granted for a tool with no command (an edit): the tool line reaching the transcript says the dialog closed', () => {
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_e' } },
        { hook: { hook_event_name: 'PermissionRequest', tool_name: 'Edit', tool_input: { file_path: '/w/a' } } },
        { lines: [toolUse('toolu_e', 'Edit')] },
      ]),
    ).toEqual(['working', 'working', 'needs_approval', 'working']);
  });

  it('2c. a tool line that comes while its dialog is still on screen (Claude on a loaded machine) says nothing; the screen then says when it closes', () => {
    const simulation = new Simulation();
    const steps: Step[] = [
      { hook: { hook_event_name: 'UserPromptSubmit' } },
      { hook: { hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_e' } },
      { hook: { hook_event_name: 'PermissionRequest', tool_name: 'Edit', tool_input: { file_path: '/w/a' } } },
      { lines: [toolUse('toolu_e', 'Edit')], dialogOpen: true },
    ];
    expect(simulation.run(steps)).toEqual(['working', 'working', 'needs_approval', 'needs_approval']);
    // Read until the dialog closes: the approval wait is one only the screen can end now.
    expect(screenWait(simulation.facts, true)).toBe('approval');
    expect(simulation.step({ screen: 'working' })).toBe('working');
    // Not on screen any more when the line came: allowed, as in 2b.
    expect(new Simulation().run([...steps.slice(0, 3), { lines: [toolUse('toolu_e', 'Edit')], dialogOpen: false }]).at(-1)).toBe('working');
  });

  it("2e. Claude's live record saying its dialog closed busy is the approval, only while exactly one approval waits", () => {
    const one = new Simulation();
    one.run([
      { hook: { hook_event_name: 'UserPromptSubmit' } },
      { hook: { hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_e' } },
      { hook: { hook_event_name: 'PermissionRequest', tool_name: 'Edit', tool_input: { file_path: '/w/a' } } },
    ]);
    const answered = resolveFacts(one.facts, { alive: true, transcript: {}, running: new Set(), dialogAnswered: true }, T0 + 60_000).facts;
    expect(sessionStatus(answered.agents)).toBe('working');
    expect(answered.agents['main']?.tools['toolu_e']?.status).toBe('working');
    // Two dialogs waiting (parallel tool calls): the record does not say which one was answered.
    const two = new Simulation();
    two.run([
      { hook: { hook_event_name: 'UserPromptSubmit' } },
      { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_1' } },
      { hook: { hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: '/w/a' }, tool_use_id: 'toolu_2' } },
      { hook: { hook_event_name: 'PermissionRequest', ...bash } },
      { hook: { hook_event_name: 'PermissionRequest', tool_name: 'Edit', tool_input: { file_path: '/w/a' } } },
    ]);
    expect(sessionStatus(two.facts.agents)).toBe('needs_approval');
    expect(resolveFacts(two.facts, { alive: true, transcript: {}, running: new Set(), dialogAnswered: true }, T0 + 60_000).facts).toEqual(two.facts);
  });

  it('2d. only a line that could end an approval wait makes the watcher look at the pane', () => {
    const simulation = new Simulation();
    simulation.run([
      { hook: { hook_event_name: 'UserPromptSubmit' } },
      { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_b' } },
    ]);
    const line = (id: string, name = 'Bash'): Observation['transcript'] => ({ main: [{ kind: 'tool-use', offset: 10_000, id, name }] });
    expect(approvalLineArrived(simulation.facts, line('toolu_b'))).toBe(false);
    simulation.step({ hook: { hook_event_name: 'PermissionRequest', ...bash } });
    expect(approvalLineArrived(simulation.facts, line('toolu_b'))).toBe(true);
    expect(approvalLineArrived(simulation.facts, line('toolu_other'))).toBe(false);
    expect(approvalLineArrived(simulation.facts, { sub: line('toolu_b')['main']! })).toBe(false);
    // Older than the newest hook: that hook saw it already.
    expect(approvalLineArrived(simulation.facts, { main: [{ kind: 'tool-use', offset: -1, id: 'toolu_b', name: 'Bash' }] })).toBe(false);
    // A PermissionRequest no PreToolUse matched is filed under a made-up key that the line renames.
    const orphan = new Simulation();
    orphan.run([{ hook: { hook_event_name: 'UserPromptSubmit' } }, { hook: { hook_event_name: 'PermissionRequest', ...bash } }]);
    expect(approvalLineArrived(orphan.facts, line('toolu_new'))).toBe(true);
    expect(approvalLineArrived(orphan.facts, line('toolu_new', 'Edit'))).toBe(false);
  });

  it('3. approval rejected: no hook follows; the rejection and interrupt lines end the turn', () => {
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_b' } },
        { hook: { hook_event_name: 'PermissionRequest', ...bash } },
        { lines: rejected('toolu_b') },
      ]),
    ).toEqual(['working', 'working', 'needs_approval', 'waiting']);
  });

  it('3b. rejected with feedback: the tool closes and the model carries on (working) until Stop', () => {
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_b' } },
        { hook: { hook_event_name: 'PermissionRequest', ...bash } },
        { lines: [toolUse('toolu_b'), toolResult('toolu_b', { is_error: true, toolUseResult: 'User rejected tool use' }, `${REJECT.slice(0, 120)} To tell you how to proceed, the user said:\nuse pnpm`)] },
        { hook: { hook_event_name: 'Stop' } },
      ]),
    ).toEqual(['working', 'working', 'needs_approval', 'working', 'waiting']);
  });

  it('4. Esc while streaming, in both shapes of the interrupt line', () => {
    for (const content of ['[Request interrupted by user]', [{ type: 'text', text: '[Request interrupted by user]' }]]) {
      expect(new Simulation().run([{ hook: { hook_event_name: 'UserPromptSubmit' } }, { lines: [user('write a poem')] }, { lines: [user(content)] }])).toEqual(['working', 'working', 'waiting']);
    }
  });

  it('4b. an interrupt older than the newest hook is old news: a new prompt stays working', () => {
    const racing = new Simulation();
    // Lines written, hook recorded after them, then the watcher reads: the interrupt precedes the hook's offset.
    racing.step({ hook: { hook_event_name: 'UserPromptSubmit' } });
    racing['transcripts'].set('main', Buffer.from(`${JSON.stringify(user('[Request interrupted by user]'))}\n`));
    racing.step({ hook: { hook_event_name: 'UserPromptSubmit', prompt: 'again' } });
    expect(racing.step({ lines: [] })).toBe('working');
  });

  it('5. AskUserQuestion waits on the person from PreToolUse; Esc on it rejects like a permission dialog', () => {
    const ask = { tool_name: 'AskUserQuestion', tool_input: { questions: [{ question: 'Which?' }] } };
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'PreToolUse', ...ask, tool_use_id: 'toolu_q' } },
        { hook: { hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission' } },
        { hook: { hook_event_name: 'PostToolUse', ...ask, tool_input: { ...ask.tool_input, answers: { Which: 'A' } }, tool_use_id: 'toolu_q' } },
        { hook: { hook_event_name: 'PreToolUse', ...ask, tool_use_id: 'toolu_q2' } },
        { lines: rejected('toolu_q2') },
      ]),
    ).toEqual(['working', 'needs_approval', 'needs_approval', 'working', 'needs_approval', 'waiting']);
  });

  it('6. a subagent: its rejection is read from its own transcript', () => {
    const sub = 'af0b4a9aaa314d555';
    const simulation = new Simulation();
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'SubagentStart', agent_id: sub, agent_type: 'Explore' } },
        { hook: { hook_event_name: 'PreToolUse', agent_id: sub, ...bash, tool_use_id: 'toolu_s' } },
        { hook: { hook_event_name: 'PermissionRequest', agent_id: sub, ...bash } },
        { lines: [toolUse('toolu_s'), toolResult('toolu_s', { is_error: true, toolUseResult: 'User rejected tool use' }, 'Permission for this tool use was denied.')], agent: sub },
        { hook: { hook_event_name: 'SubagentStop', agent_id: sub } },
        { hook: { hook_event_name: 'Stop' } },
      ]),
    ).toEqual(['working', 'working', 'working', 'needs_approval', 'working', 'working', 'waiting']);
  });

  it('6b. Esc during a foreground subagent ends the subagent too (no SubagentStop comes)', () => {
    const sub = 'af0b4a9aaa314d555';
    const simulation = new Simulation();
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'SubagentStart', agent_id: sub, agent_type: 'Explore' } },
        { hook: { hook_event_name: 'PreToolUse', agent_id: sub, tool_name: 'Grep', tool_input: { pattern: 'x' }, tool_use_id: 'toolu_g' } },
        { lines: [user('[Request interrupted by user]')] },
      ]),
    ).toEqual(['working', 'working', 'working', 'waiting']);
    expect(Object.keys(simulation.facts.agents)).toEqual(['main']);
  });

  it('8. a dead agent is cleaned up even though its transcript ends on a tool with no result', () => {
    const simulation = new Simulation();
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_b' } },
        { lines: [toolUse('toolu_b')] },
        { dead: true },
      ]),
    ).toEqual(['working', 'working', 'working', undefined]);
    expect(simulation.facts.session).toBeUndefined();
  });

  it('9. StopFailure ends the turn; the synthetic API-error record changes nothing', () => {
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'StopFailure', error: 'server_error' } },
        { lines: [{ type: 'assistant', isApiErrorMessage: true, error: 'server_error', message: { model: '<synthetic>', content: [{ type: 'text', text: 'API Error' }] } }] },
      ]),
    ).toEqual(['working', 'waiting', 'waiting']);
  });

  it('9b. a usage limit (StopFailure rate_limit) parks the agent until the next prompt; its own turn-end line changes nothing', () => {
    const simulation = new Simulation();
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: 'API Error: Request rejected (429) · Claude AI usage limit reached|1796292000' } },
        { lines: [{ type: 'assistant', isApiErrorMessage: true, error: 'rate_limit', message: { model: '<synthetic>', content: [{ type: 'text', text: 'API Error' }] } }, turnDuration] },
        { screen: 'waiting' },
      ]),
    ).toEqual(['working', 'limited', 'limited', 'limited']);
    expect(simulation.facts.agents['main']?.limit).toEqual({ until: new Date(1796292000_000).toISOString(), message: 'API Error: Request rejected (429) · Claude AI usage limit reached|1796292000', resume_sent_at: null });
    expect(simulation.step({ hook: { hook_event_name: 'UserPromptSubmit', prompt: 'continue' } })).toBe('working');
    expect(simulation.facts.agents['main']?.limit).toBeNull();
  });

  it('11. background work: a Stop listing background tasks keeps the agent working until its live record says idle', () => {
    const simulation = new Simulation();
    const background = [{ id: 'b1', type: 'shell', status: 'running', description: 'Sleep', command: 'sleep 12 && echo done' }];
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'Stop', background_tasks: background } },
        // The turn's own end line, Claude still writing `busy`, then `shell`, and an idle-looking screen: still working.
        { lines: [turnDuration] },
        { live: 'busy' },
        { live: 'background' },
        { screen: 'waiting' },
        { live: 'idle' },
      ]),
    ).toEqual(['working', 'working', 'working', 'working', 'working', 'working', 'waiting']);
    expect(simulation.facts.agents['main']?.background).toEqual([]);
    // Claude wakes the model when the work ends: a prompt, and a Stop with nothing in flight.
    expect(simulation.run([{ hook: { hook_event_name: 'UserPromptSubmit', prompt: '<task-notification>' } }, { hook: { hook_event_name: 'Stop', background_tasks: [] } }])).toEqual(['working', 'waiting']);
  });

  it('11b. background work without a live record: the shell found in the process tree keeps it working; a waiting agent whose record shows a shell works', () => {
    const simulation = new Simulation();
    expect(
      simulation.run([
        { hook: { hook_event_name: 'UserPromptSubmit' } },
        { hook: { hook_event_name: 'Stop', background_tasks: [{ id: 'b1', type: 'shell', status: 'running', description: 'x', command: 'sleep 12' }, { id: 'b2', type: 'shell', status: 'completed', command: 'true' }] } },
        { backgroundRunning: true },
        { backgroundRunning: false },
      ]),
    ).toEqual(['working', 'working', 'working', 'waiting']);
    // An older Claude's Stop lists nothing: its record saying `shell` is all there is.
    const older = new Simulation();
    expect(older.run([{ hook: { hook_event_name: 'UserPromptSubmit' } }, { hook: { hook_event_name: 'Stop' } }, { live: 'background' }, { live: 'busy' }, { live: 'idle' }])).toEqual(['working', 'waiting', 'working', 'working', 'waiting']);
  });

  it('10. Esc before the first token (no hook, no transcript line): an idle screen ends the turn, a busy one or an open tool does not', () => {
    expect(
      new Simulation().run([
        { hook: { hook_event_name: 'UserPromptSubmit', prompt: 'x' } },
        { lines: [user('x')] },
        { screen: 'working' },
        { screen: 'waiting' },
        { hook: { hook_event_name: 'UserPromptSubmit', prompt: 'y' } },
        { hook: { hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'sleep 60 &' }, tool_use_id: 'toolu_s' } },
        { screen: 'waiting' },
      ]),
    ).toEqual(['working', 'working', 'working', 'waiting', 'working', 'working', 'working']);
  });
});

describe('an approval whose dialog closes with no hook (Gemini\'s Esc): the screen ends the wait', () => {
  const ask: Step[] = [
    { hook: { hook_event_name: 'UserPromptSubmit', prompt: 'x' } },
    { hook: { hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_g' } },
    { hook: { hook_event_name: 'PermissionRequest', ...bash } },
  ];

  it('the dialog still up changes nothing; gone with the prompt idle → waiting, the turn over', () => {
    const simulation = new Simulation();
    expect(simulation.run([...ask, { screen: 'needs_approval' }, { screen: 'waiting' }])).toEqual(['working', 'working', 'needs_approval', 'needs_approval', 'waiting']);
    expect(simulation.facts.agents['main']!.tools).toEqual({});
  });

  it('gone with the agent busy → working (allowed: the tool runs), and its PostToolUse closes it', () => {
    const simulation = new Simulation();
    expect(simulation.run([...ask, { screen: 'working' }])).toEqual(['working', 'working', 'needs_approval', 'working']);
    expect(Object.values(simulation.facts.agents['main']!.tools)).toEqual([expect.objectContaining({ status: 'working', command: bash.tool_input.command })]);
    expect(simulation.run([{ hook: { hook_event_name: 'PostToolUse', ...bash, tool_use_id: 'toolu_g' } }, { hook: { hook_event_name: 'Stop' } }])).toEqual(['working', 'waiting']);
  });

  it('only an approval wait or a silent turn is read, only with a pane, and only an agent that asks for it reads approvals', () => {
    const simulation = new Simulation();
    simulation.run(ask);
    expect(screenWait(simulation.facts, true)).toBe('approval');
    expect(screenWait(simulation.facts, false)).toBeUndefined();
    expect(screenWait({ ...simulation.facts, session: { ...simulation.facts.session!, pane: null } }, true)).toBeUndefined();
    simulation.run([{ screen: 'working' }]);
    expect(screenWait(simulation.facts, true)).toBeUndefined();
    expect(screenEnds('approval', 'working')).toBe(true);
    expect(screenEnds('approval', 'needs_approval')).toBe(false);
    expect(screenEnds('silent-turn', 'working')).toBe(false);
    expect(screenEnds('silent-turn', 'waiting')).toBe(true);
  });
});

describe('background work: the pure decisions', () => {
  const facts = (status: AgentStatus, background: string[], tools = {}): Facts => ({
    session: undefined,
    agents: { main: { status, tools, agent_type: null, needs_approval_since: null, background, limit: null, updated_at: '' } },
  });
  it('ends only on an idle record (or, without one, no shell left running); starts only on a waiting agent whose record shows a shell', () => {
    expect(backgroundChange(facts('working', ['shell: sleep 1']), { live: 'idle' })).toBe('ended');
    expect(backgroundChange(facts('working', ['shell: sleep 1']), { live: 'busy' })).toBeUndefined();
    expect(backgroundChange(facts('working', ['shell: sleep 1']), { live: 'background' })).toBeUndefined();
    expect(backgroundChange(facts('working', ['shell: sleep 1']), { live: 'idle', backgroundRunning: true })).toBe('ended');
    expect(backgroundChange(facts('working', ['shell: sleep 1']), { backgroundRunning: false })).toBe('ended');
    expect(backgroundChange(facts('working', ['shell: sleep 1']), {})).toBeUndefined();
    // A foreground turn (no background listed, or a tool open) is not the record's to end.
    expect(backgroundChange(facts('working', []), { live: 'idle' })).toBeUndefined();
    expect(backgroundChange(facts('working', ['shell: sleep 1'], { t: { status: 'working', tool_name: 'Bash', input: null, command: 'ls' } }), { live: 'idle' })).toBeUndefined();
    expect(backgroundChange(facts('waiting', []), { live: 'background' })).toBe('started');
    expect(backgroundChange(facts('waiting', []), { live: 'busy' })).toBeUndefined();
    expect(backgroundChange(facts('limited', []), { live: 'background' })).toBeUndefined();
  });
  it('the shell commands to look for, leaving out subagents and commands cut short', () => {
    expect(backgroundCommands(facts('working', ['shell: sleep 12 && echo done', 'local_agent: Look around', `shell: ${'x'.repeat(198)}…`]).agents['main'])).toEqual(['sleep 12 && echo done']);
  });
});

describe('screenCheckWanted: when a silent turn is worth a look at the screen', () => {
  const at = T0 + 60_000;
  const working = (extra: Partial<Facts> = {}, tools = {}): Facts => ({
    session: { session_id: SID, agent: 'claude', cwd: null, transcript_path: null, mam_session: null, pid: 1, pid_start: 1, transcript_offset: 0, model: null, pane: PANE, started_at: '', updated_at: '' },
    agents: { main: { status: 'working', tools, agent_type: null, needs_approval_since: null, background: [], limit: null, updated_at: '' } },
    ...extra,
  });
  it('only after SCREEN_CHECK_QUIET_MS of silence, with a pane, the main agent alone and no tool open', () => {
    expect(screenCheckWanted(working(), at - SCREEN_CHECK_QUIET_MS, at)).toBe(true);
    expect(screenCheckWanted(working(), at - SCREEN_CHECK_QUIET_MS + 1, at)).toBe(false);
    expect(screenCheckWanted(working({ session: { ...working().session!, pane: null } }), 0, at)).toBe(false);
    expect(screenCheckWanted(working({}, { toolu_1: { status: 'working', tool_name: 'Bash', input: null, command: 'ls' } }), 0, at)).toBe(false);
    expect(screenCheckWanted(working({ agents: { ...working().agents, sub: working().agents['main']! } }), 0, at)).toBe(false);
    expect(screenCheckWanted(working({ agents: { main: { ...working().agents['main']!, status: 'waiting' } } }), 0, at)).toBe(false);
    // Working only on background work: the idle prompt is right, and the turn is not to be ended by it.
    expect(screenCheckWanted(working({ agents: { main: { ...working().agents['main']!, background: ['shell: sleep 9'] } } }), 0, at)).toBe(false);
  });
});

describe('transcript parsing', () => {
  it('keeps a partial last line for the next read and reports byte offsets of lines', () => {
    const first = `${JSON.stringify(toolUse('toolu_a'))}\n`;
    const text = Buffer.from(`${first}${JSON.stringify(toolResult('toolu_a')).slice(0, 20)}`);
    const parsed = parseTranscriptChunk(text, 1000);
    expect(parsed.events).toEqual([{ kind: 'tool-use', offset: 1000, id: 'toolu_a', name: 'Bash' }]);
    expect(parsed.consumed).toBe(Buffer.byteLength(first));
  });

  it('skips lines that are not JSON or not UTF-8, and never matches ids inside strings', () => {
    const bad = Buffer.concat([Buffer.from('{"type":"user","message":{"content":"\xff'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}\nnot json\n[1,2]\n')]);
    const decoy = `${JSON.stringify(user([{ type: 'text', text: 'the "tool_use_id":"toolu_a" and [Request interrupted by user] quoted mid-sentence' }]))}\n`;
    const parsed = parseTranscriptChunk(Buffer.concat([bad, Buffer.from(decoy)]), 0);
    expect(parsed.events).toEqual([]);
    expect(parsed.skipped).toBe(3);
  });

  it('a multi-byte character split across reads is not lost', () => {
    const line = Buffer.from(`${JSON.stringify(user('[Request interrupted by user] ✶ ünïcode'))}\n`);
    const cut = line.indexOf(Buffer.from('✶')) + 1;
    const head = parseTranscriptChunk(line.subarray(0, cut), 0);
    expect(head).toEqual({ events: [], consumed: 0, skipped: 0 });
    expect(parseTranscriptChunk(line, 0).events).toEqual([{ kind: 'interrupt', offset: 0 }]);
  });
});

describe('commandRunning', () => {
  it('finds a command with quotes inside the shell wrapper, and not a different one', () => {
    const command = `echo 'it''s' "a b" && printf '%s' $HOME`;
    const wrapped = ['bash', '-c', `eval '${command.replace(/'/g, `'\\''`)}' < /dev/null`];
    expect(commandRunning(command, [wrapped])).toBe(true);
    expect(commandRunning(command, [['bash', '-c', "eval 'echo other'"]])).toBe(false);
  });

  it('finds a command as a whole line of Gemini\'s wrapper script, and not as part of a line', () => {
    const script = (command: string): string[] => ['bash', '-c', `_bgpids_file='/tmp/shell_pgrep_1.tmp'\n(\n  trap 'jobs -p > "$_bgpids_file"' EXIT\n${command}\n)\n__code=$?\nexit $__code`];
    expect(commandRunning('sleep 6; touch a', [script('sleep 6; touch a')])).toBe(true);
    expect(commandRunning('touch a', [script('sleep 6; touch a')])).toBe(false);
  });

  it('a short command is not found inside an unrelated process, nor in a longer command', () => {
    expect(commandRunning('ls', [['node', '/home/u/.claude/tools/mcp-server.js']])).toBe(false);
    expect(commandRunning('npm test', [['bash', '-c', "eval 'npm test -- --watch' < /dev/null"]])).toBe(false);
    expect(commandRunning('npm test', [['npm', 'test']])).toBe(true);
    expect(commandRunning('npm test', [['/bin/sh', '-c', 'npm test']])).toBe(true);
  });
});
