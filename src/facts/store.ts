import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withFactLock } from './lock.js';
import { readTextOrUndefined, removeIfPresent } from '../util/files.js';
import { parseJsonOrUndefined } from '../util/json.js';
import type { Facts } from './derive.js';
// Read without zod: this module is on `mam hook`'s start-up path (see fact-check.ts).
import { agentFactOf, FACT_ID_PATTERN, sessionFactOf } from './check.js';
import type { AgentFact } from './schema.js';

/**
 * Fact files on disk: `${MAM_STATUS_DIR:-~/.cache/mam/status}/<sid>.session.json` and
 * `<sid>.agent.<key>.json`. One session's read-modify-write happens under `<sid>.lock`, so hooks of a
 * session's agents racing each other never lose an update; every file is replaced atomically.
 *
 * Synchronous file calls on purpose: the files are a few hundred bytes, and this module is on `mam hook`'s
 * path, where node:fs/promises alone (with the stream and readline modules it loads) costs milliseconds.
 */

/** One session's facts; pass `names` (a listing of `dir`) when reading many sessions in a row. */
export async function readFacts(dir: string, sessionId: string, names?: readonly string[]): Promise<Facts> {
  const session = sessionFactOf(parseJsonOrUndefined(readTextOrUndefined(path.join(dir, `${sessionId}.session.json`)) ?? ''));
  return { session, agents: await readAgentFacts(dir, sessionId, names ?? (await listStatusDir(dir))) };
}

/** The status directory's file names; list it once and hand it to readAgentFacts for every session. */
export async function listStatusDir(dir: string): Promise<string[]> {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** One session's agent facts, by agent key, found in `names` (a listing of `dir`). */
export async function readAgentFacts(dir: string, sessionId: string, names: readonly string[]): Promise<Record<string, AgentFact>> {
  const agents: Record<string, AgentFact> = {};
  const prefix = `${sessionId}.agent.`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
    const fact = agentFactOf(parseJsonOrUndefined(readTextOrUndefined(path.join(dir, name)) ?? ''));
    if (fact) agents[name.slice(prefix.length, -'.json'.length)] = fact;
  }
  return agents;
}

/** Applies `change` to one session's facts under its lock and writes what changed. */
export async function updateFacts(dir: string, sessionId: string, change: (facts: Facts) => { facts: Facts; ended: boolean }, timeoutMs: number): Promise<Facts> {
  if (!FACT_ID_PATTERN.test(sessionId)) throw new Error(`session id ${JSON.stringify(sessionId)} is not safe as a file name`);
  mkdirSync(dir, { recursive: true });
  return withFactLock(
    path.join(dir, `${sessionId}.lock`),
    async () => {
      const before = await readFacts(dir, sessionId);
      const { facts, ended } = change(before);
      if (ended) {
        // The session file last: while it exists, the watcher can still find (and finish removing) the rest.
        for (const name of [...Object.keys(before.agents).map((key) => `${sessionId}.agent.${key}.json`), `${sessionId}.session.json`]) removeIfPresent(path.join(dir, name));
        return { session: undefined, agents: {} };
      }
      if (facts.session) replaceFile(path.join(dir, `${sessionId}.session.json`), `${JSON.stringify(facts.session)}\n`);
      for (const [key, fact] of Object.entries(facts.agents)) {
        if (before.agents[key] && JSON.stringify(before.agents[key]) === JSON.stringify(fact)) continue;
        replaceFile(path.join(dir, `${sessionId}.agent.${key}.json`), `${JSON.stringify(fact)}\n`);
      }
      for (const key of Object.keys(before.agents)) if (!facts.agents[key]) removeIfPresent(path.join(dir, `${sessionId}.agent.${key}.json`));
      return facts;
    },
    timeoutMs,
  );
}

let replaced = 0;

/**
 * Temp file + rename: a reader sees the old fact or the new, never a mix. No fsync (unlike the registry's
 * writeFileAtomic): fact files describe live processes, which a power loss ends anyway.
 */
function replaceFile(file: string, content: string): void {
  // A dot file: listings of `<sid>.*` (the watcher's, a person's ls, a script's glob) never see a half-written fact.
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${(replaced += 1)}`);
  writeFileSync(temp, content, { flag: 'wx', mode: 0o644 });
  try {
    renameSync(temp, file);
  } catch (error) {
    removeIfPresent(temp);
    throw error;
  }
}
