// FACT_ID_PATTERN from the zod-free module: `mam hook` loads this file, and zod would double its start-up.
import { FACT_ID_PATTERN } from './check.js';
import type { HookEvent, HookEventAlias } from '../agents/types.js';
import type { PaneAddress } from '../tmux/pane-address.js';
import { limitReset } from './limit.js';
import type { AgentFact, AgentStatus, LimitFact, SessionFact, ToolFact } from './schema.js';

/**
 * Hook event → status, as a pure function of the current facts, one payload and the clock (docs/status.md,
 * 'Hook events → status'; the payloads: docs/agents.md, 'Claude hooks'). Claude's event names; Codex uses the
 * same ones, and an agent with names of its own (Gemini) maps them in its module (`hooks.eventAliases`), which the
 * caller passes in the context: this file knows no agent.
 */
export interface Facts {
  readonly session: SessionFact | undefined;
  /** By agent key: `main`, or a subagent's `agent_id`. */
  readonly agents: Readonly<Record<string, AgentFact>>;
}

export interface HookContext {
  readonly now: number;
  readonly agent: string;
  readonly mamSession: string | null;
  /** The registry that session is in (`MAM_REGISTRY`), when mam started it. */
  readonly registry?: string | null;
  readonly pid: number | null;
  /** The agent's start time, for telling it from a later process that reuses its pid. */
  readonly pidStart?: number | null;
  /** The transcript's size now, when known: where events newer than this hook begin. */
  readonly transcriptSize?: number | null;
  /** The tmux pane the hook ran in, when it ran in tmux. */
  readonly pane?: PaneAddress | null;
  /** The agent's own event names (its module's `hooks.eventAliases`, via hookEventAliases in src/facts/hook.ts); none: Claude's. */
  readonly eventAliases?: readonly HookEventAlias[];
}

export interface Applied {
  readonly facts: Facts;
  /** The whole session ended: remove its files. */
  readonly ended: boolean;
  /** A session (re)started with this id, from `source` (startup, resume, clear): the registry records it. */
  readonly started?: { readonly sessionId: string; readonly source: string };
}

export type HookPayload = Readonly<Record<string, unknown>>;

/** Every event applyHook handles; a Record, so a name added to HookEvent and not here fails to compile. */
const KNOWN_EVENTS: Readonly<Record<HookEvent, true>> = {
  SessionStart: true,
  UserPromptSubmit: true,
  PreToolUse: true,
  PermissionRequest: true,
  PostToolUse: true,
  PostToolUseFailure: true,
  Stop: true,
  StopFailure: true,
  SubagentStart: true,
  SubagentStop: true,
  SessionEnd: true,
};

export function isHookEvent(name: string): name is HookEvent {
  return Object.hasOwn(KNOWN_EVENTS, name);
}

/** The event a payload reports, by mam's names: the first of the agent's aliases that fits it, else its own name. */
export function hookEvent(payload: HookPayload, aliases: readonly HookEventAlias[] = []): string {
  const raw = str(payload['hook_event_name']) ?? '';
  const alias = aliases.find((candidate) => candidate.event === raw && Object.entries(candidate.when ?? {}).every(([field, value]) => payload[field] === value));
  return alias?.means ?? raw;
}

/** Claude tools whose whole purpose is a dialog with the person (docs/status.md, 'Scenarios', case 5). */
const ASKS_THE_PERSON = new Set(['AskUserQuestion', 'ExitPlanMode']);

export function applyHook(facts: Facts, payload: HookPayload, context: HookContext): Applied {
  const at = new Date(context.now).toISOString();
  const event = hookEvent(payload, context.eventAliases);
  const sessionId = str(payload['session_id']) ?? '';
  const agentKey = str(payload['agent_id']) && FACT_ID_PATTERN.test(str(payload['agent_id'])!) ? str(payload['agent_id'])! : 'main';
  const agents: Record<string, AgentFact> = { ...facts.agents };
  const agentFact = (key: string): AgentFact => agents[key] ?? { status: 'working', tools: {}, agent_type: null, needs_approval_since: null, background: [], limit: null, updated_at: at };
  type Put = Omit<AgentFact, 'updated_at' | 'needs_approval_since' | 'background' | 'limit'> & Partial<Pick<AgentFact, 'needs_approval_since' | 'background' | 'limit'>>;
  /** Background work and a limit are kept only where the event passes them on (`...fact`); a new turn drops both. */
  const put = (key: string, fact: Put): void => {
    const status = derive(fact.tools, fact.status);
    const waitingSince = status === 'needs_approval' ? (fact.needs_approval_since ?? agents[key]?.needs_approval_since ?? at) : null;
    const limit = status === 'limited' ? (fact.limit ?? null) : null;
    agents[key] = { ...fact, status, needs_approval_since: waitingSince, background: fact.background ?? [], limit, updated_at: at };
  };
  const dropSubagents = (): void => {
    for (const key of Object.keys(agents)) if (key !== 'main') delete agents[key];
  };
  const session: SessionFact = {
    session_id: sessionId,
    agent: context.agent,
    cwd: str(payload['cwd']) ?? facts.session?.cwd ?? null,
    transcript_path: str(payload['transcript_path']) ?? facts.session?.transcript_path ?? null,
    mam_session: context.mamSession ?? facts.session?.mam_session ?? null,
    mam_registry: context.registry ?? facts.session?.mam_registry ?? null,
    pid: facts.session?.pid ?? context.pid,
    pid_start: facts.session?.pid ? facts.session.pid_start : (context.pidStart ?? null),
    transcript_offset: context.transcriptSize ?? facts.session?.transcript_offset ?? null,
    model: str(payload['model']) ?? facts.session?.model ?? null,
    pane: context.pane ?? facts.session?.pane ?? null,
    started_at: facts.session?.started_at ?? at,
    updated_at: at,
  };

  switch (event) {
    case 'SessionStart': {
      // Sessions start waiting (a resumed one is not "working" until the person says something).
      dropSubagents();
      put('main', { status: 'waiting', tools: {}, agent_type: null });
      return { facts: { session: { ...session, pid: context.pid ?? session.pid, pid_start: context.pid ? (context.pidStart ?? null) : session.pid_start }, agents }, ended: false, started: { sessionId, source: str(payload['source']) ?? 'startup' } };
    }
    case 'UserPromptSubmit':
      dropSubagents();
      put('main', { status: 'working', tools: {}, agent_type: null });
      break;
    case 'PreToolUse': {
      const fact = agentFact(agentKey);
      const id = str(payload['tool_use_id']) ?? `${str(payload['tool_name']) ?? 'tool'}@${context.now}`;
      // A question or a plan to approve waits on the person from the start; its Notification comes 6 s late.
      const tool = toolFact(payload, ASKS_THE_PERSON.has(str(payload['tool_name']) ?? '') ? 'needs_approval' : 'working');
      // A permission asked for before this tool's pre-hook was answered: Gemini fires BeforeTool only once the
      // tool runs (its Notification(ToolPermission) names no tool, so any such wait goes), and Codex may ask first.
      const tools = Object.fromEntries(
        Object.entries(fact.tools).filter(
          ([key, open]) => !(key.startsWith('permission:') && (open.tool_name === 'tool' || (open.tool_name === tool.tool_name && (open.input === tool.input || (open.command !== null && open.command === tool.command))))),
        ),
      );
      put(agentKey, { ...fact, status: 'working', tools: { ...tools, [id]: tool } });
      break;
    }
    case 'PermissionRequest': {
      const fact = agentFact(agentKey);
      const wanted = toolFact(payload, 'needs_approval');
      const entries = Object.entries(fact.tools);
      // No tool_use_id: the open tool with this name and this very input, else the oldest of this name.
      const match =
        entries.find(([, tool]) => tool.tool_name === wanted.tool_name && tool.input !== null && tool.input === wanted.input) ??
        entries.find(([, tool]) => tool.tool_name === wanted.tool_name && tool.status === 'working') ??
        // Gemini's Notification(ToolPermission) names no tool, only the command its BeforeTool carried.
        entries.find(([, tool]) => wanted.command !== null && tool.command === wanted.command && tool.status === 'working');
      const id = match?.[0] ?? `permission:${wanted.tool_name}@${context.now}`;
      put(agentKey, { ...fact, tools: { ...fact.tools, [id]: { ...(match?.[1] ?? wanted), status: 'needs_approval', command: wanted.command ?? match?.[1].command ?? null } } });
      break;
    }
    case 'PostToolUse':
    case 'PostToolUseFailure': {
      const fact = agentFact(agentKey);
      const id = str(payload['tool_use_id']);
      if (payload['is_interrupt'] === true) {
        // Esc on a running tool: the turn is over.
        put(agentKey, { ...fact, status: 'waiting', tools: {} });
        break;
      }
      // Without an id: the running tools of this name, and the one of this very input that waited for approval (it ran).
      const input = payload['tool_input'] === undefined ? null : canonical(payload['tool_input']);
      const tools = Object.fromEntries(
        Object.entries(fact.tools).filter(([key, tool]) =>
          id !== undefined ? key !== id : !(tool.tool_name === str(payload['tool_name']) && (tool.status === 'working' || (input !== null && tool.input === input))),
        ),
      );
      put(agentKey, { ...fact, status: 'working', tools });
      break;
    }
    case 'Stop': {
      if (agentKey !== 'main') break;
      dropSubagents();
      // The turn is over, but what it started in the background runs on (docs/status.md, 'Background work').
      const background = backgroundTasks(payload);
      put('main', { status: background.length > 0 ? 'working' : 'waiting', tools: {}, agent_type: null, background });
      break;
    }
    case 'StopFailure': {
      if (agentKey !== 'main') break;
      dropSubagents();
      const limit = limitOf(payload, context.now);
      put('main', limit ? { status: 'limited', tools: {}, agent_type: null, limit } : { status: 'waiting', tools: {}, agent_type: null });
      break;
    }
    case 'SubagentStart':
      put(agentKey, { status: 'working', tools: {}, agent_type: str(payload['agent_type']) ?? null });
      break;
    case 'SubagentStop':
      delete agents[agentKey];
      break;
    case 'SessionEnd':
      return { facts: { session, agents: {} }, ended: true };
    default:
      // Notification and the rest say nothing reliable about status (clawdboard and agent-deck agree).
      return { facts, ended: false };
  }
  return { facts: { session, agents }, ended: false };
}

/** An agent's status from its open tools; with none open it keeps what the last event set. */
export function derive(tools: Readonly<Record<string, ToolFact>>, current: AgentStatus): AgentStatus {
  const open = Object.values(tools);
  if (open.some((tool) => tool.status === 'needs_approval')) return 'needs_approval';
  if (open.some((tool) => tool.status === 'working')) return 'working';
  return current;
}

const RANK: Record<AgentStatus, number> = { waiting: 0, working: 1, limited: 2, needs_approval: 3 };

/** A session's status is the most pressing of its agents': needs_approval > limited > working > waiting. */
export function sessionStatus(agents: Readonly<Record<string, AgentFact>>): AgentStatus | undefined {
  const all = Object.values(agents);
  if (all.length === 0) return undefined;
  return all.reduce<AgentStatus>((best, fact) => (RANK[fact.status] > RANK[best] ? fact.status : best), 'waiting');
}

/**
 * The Stop payload's `background_tasks` (Claude 2.1.197: `{id, type, status, description, command?}`, the work
 * still in flight) as one line each, `shell: <command>` or `<type>: <description>`; none when absent or empty.
 */
export function backgroundTasks(payload: HookPayload): string[] {
  const tasks = payload['background_tasks'];
  if (!Array.isArray(tasks)) return [];
  return tasks.flatMap((task: unknown) => {
    if (typeof task !== 'object' || task === null) return [];
    const { type, status, description, command } = task as Record<string, unknown>;
    if (status === 'completed' || status === 'failed' || status === 'killed') return [];
    const what = str(command) ?? str(description) ?? str((task as Record<string, unknown>)['id']) ?? 'task';
    return [`${str(type) ?? 'task'}: ${what.length > 200 ? `${what.slice(0, 199)}…` : what}`];
  });
}

/** A StopFailure that is a usage or rate limit (`error: "rate_limit"`), with its reset time where the text gives one. */
export function limitOf(payload: HookPayload, now: number): LimitFact | undefined {
  if (payload['error'] !== 'rate_limit') return undefined;
  const message = [str(payload['last_assistant_message']), str(payload['error_details'])].filter((text): text is string => text !== undefined).join('\n') || null;
  const until = message === null ? undefined : limitReset(message, now);
  return { until: until === undefined ? null : new Date(until).toISOString(), message: message === null ? null : message.slice(0, 500), resume_sent_at: null };
}

function toolFact(payload: HookPayload, status: ToolFact['status']): ToolFact {
  const input = payload['tool_input'];
  // Gemini's Notification(ToolPermission) carries the confirmation `details` ({type, title, command?…}) instead.
  const holder = input ?? payload['details'];
  const command = typeof holder === 'object' && holder !== null ? str((holder as Record<string, unknown>)['command']) : undefined;
  return { status, tool_name: str(payload['tool_name']) ?? 'tool', input: input === undefined ? null : canonical(input), command: command ?? null };
}

/** JSON with sorted keys, so two payloads of the same input compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value as Record<string, unknown>).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
