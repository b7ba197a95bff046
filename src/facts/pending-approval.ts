import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from '../proc/tree.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { FACT_ID_PATTERN } from './check.js';
import { JsonObjectScanner } from './hook-stdin.js';
import type { AgentFact } from './schema.js';
import { APPROVAL_EVENT, headerNumber, SPOOL_MAGIC, spoolHeader, spoolNames, type SpoolName } from './spool-file.js';

/**
 * Needs approval before the watcher has recorded it (docs/status.md, 'Needs approval first'). Claude runs its
 * PermissionRequest hook before it draws the dialog; the fast hook only spools the payload, named
 * `<clock>-<pid>.PermissionRequest`, and the watcher records it when it next wakes — on a loaded machine that can be
 * after the dialog is on screen. So the readers of status (`mam status`, `mam ui`, `mam status --tmux`) count such a
 * spooled, not yet recorded payload as `needs_approval` themselves: the status is visible the moment the hook has
 * renamed its file into place, which is before the dialog is drawn, whatever the load. Nothing waits on the agent's path.
 *
 * A marker counts only while it is the truth: its agent process still runs (the header's pid and start time), no
 * later hook of that agent process is spooled after it (an approval given or refused runs PostToolUse or Stop next),
 * and nothing later was recorded for that agent (its fact's `updated_at` is older than the marker). The watcher
 * removes the file once it records it, and from then on the fact file says the same.
 */
export interface PendingApproval {
  readonly sessionId: string;
  /** `main`, or the subagent's agent_id. */
  readonly agentKey: string;
  /** When the hook wrote the payload (the file's modification time), in ms. */
  readonly since: number;
}

/** The header of a later spool file is all we need of it: its agent process. Payloads can be megabytes. */
const HEADER_BYTES = 4096;

function readHead(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(HEADER_BYTES);
    return buffer.subarray(0, readSync(fd, buffer, 0, HEADER_BYTES, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function agentOf(fields: ReadonlyMap<string, string>): { pid: number; start: number } | undefined {
  const pid = headerNumber(fields, 'pid');
  const start = headerNumber(fields, 'start');
  return pid !== undefined && start !== undefined ? { pid, start } : undefined;
}

/**
 * The approvals spooled and not yet recorded, by session id. One directory listing when there are none (the usual
 * case: a running watcher keeps the spool empty); otherwise each marker is read, and the headers of files after it.
 */
export function pendingApprovals(statusDir: string): Map<string, PendingApproval[]> {
  const found = new Map<string, PendingApproval[]>();
  const spool = path.join(statusDir, 'spool');
  const names = spoolNames(spool);
  if (!names.some((entry) => entry.event === APPROVAL_EVENT)) return found;
  const laterAgents = (after: number): Set<number> => {
    const pids = new Set<number>();
    for (const entry of names.slice(after + 1)) {
      const head = readHead(path.join(spool, entry.name));
      const header = head ? spoolHeader(head) : undefined;
      const pid = header ? headerNumber(header.fields, 'pid') : undefined;
      if (pid !== undefined) pids.add(pid);
    }
    return pids;
  };
  names.forEach((entry: SpoolName, index) => {
    if (entry.event !== APPROVAL_EVENT) return;
    const file = path.join(spool, entry.name);
    let bytes: Buffer;
    let since: number;
    try {
      since = Math.round(statSync(file).mtimeMs);
      bytes = readFileSync(file);
    } catch {
      return; // recorded and removed meanwhile: the fact file says it now
    }
    const header = spoolHeader(bytes);
    if (!header || header.magic !== SPOOL_MAGIC) return;
    const agent = agentOf(header.fields);
    // An agent that is gone (or unknown) waits for nobody's approval.
    if (!agent || !isAlive(agent)) return;
    if (laterAgents(index).has(agent.pid)) return;
    const body = bytes.subarray(header.bodyStart);
    const scanner = new JsonObjectScanner();
    scanner.push(body);
    if (scanner.state !== 'complete') return;
    const payload = parseJsonOrUndefined(body.subarray(0, scanner.end).toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return;
    const { session_id: sessionId, agent_id: agentId } = payload as Record<string, unknown>;
    if (typeof sessionId !== 'string' || !FACT_ID_PATTERN.test(sessionId)) return;
    const agentKey = typeof agentId === 'string' && FACT_ID_PATTERN.test(agentId) ? agentId : 'main';
    found.set(sessionId, [...(found.get(sessionId) ?? []), { sessionId, agentKey, since }]);
  });
  return found;
}

/**
 * One session's agent facts as readers show them: each pending approval of the session makes its agent
 * `needs_approval`, unless the agent's fact was updated after the marker was written (something later was recorded).
 */
export function withPendingApprovals(agents: Readonly<Record<string, AgentFact>>, pending: readonly PendingApproval[] | undefined): Record<string, AgentFact> {
  const shown: Record<string, AgentFact> = { ...agents };
  for (const approval of pending ?? []) {
    const fact = shown[approval.agentKey];
    const updated = fact ? Date.parse(fact.updated_at) : NaN;
    if (fact && updated > approval.since) continue;
    const at = new Date(approval.since).toISOString();
    shown[approval.agentKey] = {
      status: 'needs_approval',
      tools: fact?.tools ?? {},
      agent_type: fact?.agent_type ?? null,
      needs_approval_since: fact?.needs_approval_since ?? at,
      background: fact?.background ?? [],
      limit: null,
      updated_at: at,
    };
  }
  return shown;
}
