import type { AgentFact } from '../../src/facts/schema.js';
import type { AgentStatusMessage } from '../../src/mqtt/status-message.js';
import type { StatusRow } from '../../src/status/report.js';
import { rowKey, type FleetRow } from '../../src/ui/fleet.js';
import { initialView, type ViewState } from '../../src/ui/view.js';

/** Plain data for the dashboard's pure modules: one status row, fact, message or fleet row with what a test sets. */
export function statusRow(name: string, fields: Partial<StatusRow> = {}): StatusRow {
  return {
    name,
    agent: 'claude',
    status: 'running',
    tmux_server: 'agents',
    tmux: 'alive',
    conversation_id: `conv-${name}`,
    workspace: `/home/me/lab/${name}`,
    since: '2026-01-01T00:00:00.000Z',
    age_seconds: 0,
    job: null,
    activity: null,
    activity_source: null,
    background: [],
    limited_until: null,
    ...fields,
  };
}

export function agentFact(fields: Partial<AgentFact> = {}): AgentFact {
  return { status: 'working', tools: {}, agent_type: null, needs_approval_since: null, background: [], limit: null, updated_at: '2026-01-01T00:00:00.000Z', ...fields };
}

export function statusMessage(host: string, session: string, fields: Partial<AgentStatusMessage> = {}): AgentStatusMessage {
  return {
    host,
    session,
    conversation_id: `conv-${session}`,
    agent: 'claude',
    status: 'working',
    agents: { main: 'working' },
    needs_approval_since: null,
    cwd: `/srv/${session}`,
    updated_at: '2026-01-01T00:00:00.000Z',
    seq: 1,
    ...fields,
  };
}

export function fleetRow(name: string, fields: Partial<FleetRow> = {}): FleetRow {
  const host = fields.host ?? 'here';
  return {
    key: rowKey(host, name),
    name,
    agent: 'claude',
    host,
    local: true,
    state: 'working',
    stateSince: undefined,
    workspace: `/home/me/lab/${name}`,
    job: null,
    approvals: [],
    source: 'hooks',
    ...fields,
  };
}

export const view0: ViewState = initialView({ agent: 'claude', workspace: '/home/me/lab' });
