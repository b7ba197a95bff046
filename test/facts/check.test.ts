import { describe, expect, it } from 'vitest';
import { AGENT_FACT_KEYS, agentFactOf, SESSION_FACT_KEYS, sessionFactOf, TOOL_FACT_KEYS } from '../../src/facts/check.js';
import { AgentFact, SessionFact, ToolFact } from '../../src/facts/schema.js';

/**
 * `mam hook` reads fact files without zod (start-up time); the zod schemas stay the format's definition.
 * These hold the two to the same answers, so a field added to one and not the other fails here.
 */
const tool = { status: 'needs_approval', tool_name: 'Bash', input: '{"command":"ls"}', command: 'ls' };
const agent = { status: 'working', tools: { toolu_1: tool }, agent_type: null, needs_approval_since: '2026-11-22T10:00:00.000Z', updated_at: '2026-11-22T10:00:01.000Z' };
const session = {
  session_id: '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f',
  agent: 'claude',
  cwd: '/w',
  transcript_path: null,
  mam_session: 'w-creator-claude',
  pid: 123,
  pid_start: 456,
  transcript_offset: 789,
  model: null,
  started_at: '2026-11-22T10:00:00.000Z',
  updated_at: '2026-11-22T10:00:01.000Z',
};

const agentSamples: unknown[] = [
  agent,
  { ...agent, tools: {} },
  { ...agent, extra: 1, tools: { a: { ...tool, extra: true } } },
  { ...agent, status: 'busy' },
  { ...agent, tools: { a: { ...tool, status: 'waiting' } } },
  { ...agent, tools: [] },
  { ...agent, agent_type: undefined },
  { ...agent, updated_at: 5 },
  null,
  'text',
  [],
];
const sessionSamples: unknown[] = [
  session,
  { ...session, pid_start: undefined, transcript_offset: undefined },
  { ...session, pid: null, pid_start: null },
  { ...session, pid: 1.5 },
  { ...session, pid: '123' },
  { ...session, transcript_offset: Number.MAX_SAFE_INTEGER + 2 },
  { ...session, cwd: undefined },
  { ...session, extra: 'dropped' },
  { ...session, agent: null },
  { ...session, pane: { socket: '/tmp/tmux-1000/default', id: '%3' } },
  { ...session, pane: { socket: '/tmp/tmux-1000/default', id: '%3', extra: 1 } },
  { ...session, pane: { socket: '/tmp/tmux-1000/default' } },
  { ...session, pane: 'x' },
  {},
];

describe('fact files read without zod', () => {
  it('know the same fields as the zod schemas', () => {
    expect([...TOOL_FACT_KEYS].sort()).toEqual(Object.keys(ToolFact.shape).sort());
    expect([...AGENT_FACT_KEYS].sort()).toEqual(Object.keys(AgentFact.shape).sort());
    expect([...SESSION_FACT_KEYS].sort()).toEqual(Object.keys(SessionFact.shape).sort());
  });

  it('accept, default and drop exactly as the zod schemas do', () => {
    for (const sample of agentSamples) {
      const zod = AgentFact.safeParse(sample);
      expect(agentFactOf(sample), JSON.stringify(sample)).toEqual(zod.success ? zod.data : undefined);
    }
    for (const sample of sessionSamples) {
      const zod = SessionFact.safeParse(sample);
      expect(sessionFactOf(sample), JSON.stringify(sample)).toEqual(zod.success ? zod.data : undefined);
    }
  });
});
