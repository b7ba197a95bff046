import { agentKind } from '../agents/index.js';
import { homeDir } from '../config.js';
import type { ApprovalWait } from '../kanban/coalesce.js';
import type { CachedRegistryReader } from '../registry/store.js';
import { listStatusDir, readAgentFacts, statusDir } from './store.js';

/**
 * Running sessions whose agents wait on a person's approval, and since when (the earliest of their agents).
 * Runs every monitor pass: one listing of the status directory, and only the agent files of registered
 * running sessions are read.
 */
export async function approvalWaits(registryFile: string, reader: CachedRegistryReader, env: NodeJS.ProcessEnv): Promise<ApprovalWait[]> {
  const registry = await reader.read(registryFile);
  const dir = statusDir(env, homeDir(env));
  const names = await listStatusDir(dir);
  if (names.length === 0) return [];
  const waits: ApprovalWait[] = [];
  for (const entry of registry.entries) {
    const kind = agentKind(entry.agent);
    const id = kind ? entry[kind.conversationIdField] : undefined;
    if (entry.status !== 'running' || !id) continue;
    const since = Object.values(await readAgentFacts(dir, id, names))
      .map((fact) => fact.needs_approval_since)
      .filter((value): value is string => value !== null)
      .sort()[0];
    if (since) waits.push({ session: entry.name, since });
  }
  return waits;
}
