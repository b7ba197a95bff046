import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { agentKind } from '../agents/index.js';
import { homeDir } from '../config.js';
import type { ApprovalWait } from '../kanban/coalesce.js';
import type { CachedRegistryReader } from '../registry/store.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { AgentFact } from './facts.js';
import { statusDir } from './store.js';

/**
 * Running sessions whose agents wait on a person's approval, and since when (the earliest of their agents).
 * Runs every monitor pass: one listing of the status directory, and only the agent files of registered
 * running sessions are read.
 */
export async function approvalWaits(registryFile: string, reader: CachedRegistryReader, env: NodeJS.ProcessEnv): Promise<ApprovalWait[]> {
  const registry = await reader.read(registryFile);
  const dir = statusDir(env, homeDir(env));
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return [];
  const waits: ApprovalWait[] = [];
  for (const entry of registry.entries) {
    const kind = agentKind(entry.agent);
    const id = kind ? entry[kind.conversationIdField] : undefined;
    if (entry.status !== 'running' || !id) continue;
    const prefix = `${id}.agent.`;
    let since: string | undefined;
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
      const fact = AgentFact.safeParse(parseJsonOrUndefined(await readFile(path.join(dir, name), 'utf8').catch(() => '')));
      const started = fact.success ? fact.data.needs_approval_since : null;
      if (started && (since === undefined || started < since)) since = started;
    }
    if (since) waits.push({ session: entry.name, since });
  }
  return waits;
}
