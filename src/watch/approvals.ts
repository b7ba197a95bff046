import { agentKind } from '../agents/index.js';
import { statusDir } from '../config.js';
import type { CachedRegistryReader } from '../registry/store.js';
import { sessionStatus } from '../facts/derive.js';
import { paneTarget, type PaneSampler, type PaneTarget } from './pane-sampler.js';
import { listStatusDir, readAgentFacts } from '../facts/store.js';

/** An agent that has been waiting on a person's approval since `since` (ISO). */
export interface ApprovalWait {
  readonly session: string;
  readonly since: string;
}

/** A running session stopped on a usage limit (docs/status.md, 'Usage limits'). */
export interface LimitedSession {
  readonly session: string;
  /** When the limit was hit (the main agent's fact), and when it resets where known (ISO). */
  readonly since: string;
  readonly until: string | null;
  /** What `mam watch` sends at the reset, when the entry asks for auto-resume. */
  readonly resumeText: string | null;
}

/** Running sessions whose main agent is `limited`, for the monitor's comment: one listing, registered sessions only. */
export async function limitedSessions(registryFile: string, reader: CachedRegistryReader, env: NodeJS.ProcessEnv): Promise<LimitedSession[]> {
  const registry = await reader.read(registryFile);
  const dir = statusDir(env);
  const names = await listStatusDir(dir);
  if (names.length === 0) return [];
  const found: LimitedSession[] = [];
  for (const entry of registry.entries) {
    const kind = agentKind(entry.agent);
    const id = kind ? entry[kind.conversationIdField] : undefined;
    if (entry.status !== 'running' || !id) continue;
    const main = (await readAgentFacts(dir, id, names))['main'];
    if (main?.status !== 'limited') continue;
    found.push({ session: entry.name, since: main.updated_at, until: main.limit?.until ?? null, resumeText: entry.auto_resume === true ? (entry.auto_resume_text ?? 'continue') : null });
  }
  return found;
}

/**
 * Running sessions whose agents wait on a person's approval, and since when (the earliest of their agents).
 * Runs every monitor pass: one listing of the status directory, and only the agent files of registered
 * running sessions are read. With `panes`, sessions no hook reports for (and Codex's, whose approval
 * dialogs fire no hook) are looked at on screen too, through the sampler's rate-limited, backed-off tracks,
 * so an idle monitor does not capture every pane every pass.
 */
export async function approvalWaits(registryFile: string, reader: CachedRegistryReader, env: NodeJS.ProcessEnv, panes?: PaneSampler): Promise<ApprovalWait[]> {
  const registry = await reader.read(registryFile);
  const dir = statusDir(env);
  const names = await listStatusDir(dir);
  if (names.length === 0 && !panes) return [];
  const waits: ApprovalWait[] = [];
  const targets: PaneTarget[] = [];
  for (const entry of registry.entries) {
    const kind = agentKind(entry.agent);
    if (entry.status !== 'running' || !kind) continue;
    const id = entry[kind.conversationIdField];
    const facts = id && names.length > 0 ? await readAgentFacts(dir, id, names) : {};
    const since = Object.values(facts)
      .map((fact) => fact.needs_approval_since)
      .filter((value): value is string => value !== null)
      .sort()[0];
    if (since) waits.push({ session: entry.name, since });
    else if (panes) {
      const target = paneTarget(entry, sessionStatus(facts));
      if (target) targets.push(target);
    }
  }
  if (panes) {
    for (const [session, reading] of await panes.sample(targets)) {
      if (reading.status === 'needs_approval' && reading.since !== undefined) waits.push({ session, since: new Date(reading.since).toISOString() });
    }
  }
  return waits;
}
