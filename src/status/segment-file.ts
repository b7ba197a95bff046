import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Facts } from '../facts/derive.js';
import { sessionStatus } from '../facts/derive.js';
import type { AgentStatus } from '../facts/schema.js';
import { listStatusDir, readAgentFacts } from '../facts/store.js';
import { pendingApprovals, withPendingApprovals } from '../facts/pending-approval.js';
import { sessionFactOf } from '../facts/check.js';
import { runningWatcher } from '../facts/watcher-pid.js';
import { isAlive, processId } from '../proc/tree.js';
import { readTextOrUndefined, removeIfPresent } from '../util/files.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { countStatuses, plainSegment, tmuxSegment, type SegmentCounts } from './segment.js';

/**
 * The segment on disk: `<status dir>/tmux-status`, one line in tmux style syntax, kept by the watcher for as long
 * as it runs, so tmux's `#(cat …)` costs one `cat` and no Node (bench/status-segment.bench.ts). The file exists only
 * while a watcher keeps it fresh: the watcher removes it when it exits. Zod-free and synchronous like the fact
 * store: `mam status --tmux` runs every few seconds.
 */
export const SEGMENT_FILE = 'tmux-status';

export function segmentPath(dir: string): string {
  return path.join(dir, SEGMENT_FILE);
}

let written = 0;

/** Temp dot file + rename, so `cat` never reads half a line. */
export function writeSegment(dir: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  const file = segmentPath(dir);
  const temp = path.join(dir, `.${SEGMENT_FILE}.tmp-${process.pid}-${(written += 1)}`);
  writeFileSync(temp, `${text}\n`, { mode: 0o644 });
  try {
    renameSync(temp, file);
  } catch (error) {
    removeIfPresent(temp);
    throw error;
  }
}

/**
 * The counts straight from the fact files, for when no watcher keeps the file: one listing, then per session its
 * agents' files. A session whose recorded agent process is gone is not counted: without a watcher nobody has
 * removed its facts yet.
 */
export async function countsFromFacts(dir: string, approvals = pendingApprovals(dir)): Promise<SegmentCounts> {
  const names = await listStatusDir(dir);
  const statuses: (AgentStatus | undefined)[] = [];
  for (const name of names) {
    if (!name.endsWith('.session.json')) continue;
    const session = sessionFactOf(parseJsonOrUndefined(readTextOrUndefined(path.join(dir, name)) ?? ''));
    if (!session) continue;
    if (session.pid !== null && !(session.pid_start !== null ? isAlive({ pid: session.pid, start: session.pid_start }) : processId(session.pid) !== undefined)) continue;
    const id = name.slice(0, -'.session.json'.length);
    statuses.push(sessionStatus(withPendingApprovals(await readAgentFacts(dir, id, names), approvals.get(id))));
  }
  return countStatuses(statuses);
}

/**
 * What `mam status --tmux` prints: the watcher's file while the watcher that keeps it runs, else the same segment
 * computed from the fact files. `source` says which.
 */
export async function currentSegment(dir: string, color: boolean): Promise<{ readonly text: string; readonly source: 'watcher' | 'facts' }> {
  // An approval the watcher has not recorded yet is not in its file: counted from the facts then.
  const approvals = pendingApprovals(dir);
  const cached = runningWatcher(dir) && approvals.size === 0 ? readTextOrUndefined(segmentPath(dir)) : undefined;
  if (cached !== undefined) {
    const line = cached.split('\n', 1)[0]!;
    return { text: color ? line : plainSegment(line), source: 'watcher' };
  }
  return { text: tmuxSegment(await countsFromFacts(dir, approvals), color), source: 'facts' };
}

export interface SegmentCacheOptions {
  readonly dir: string;
  /** Told when the file cannot be written; once per run of failures, the watcher carries on regardless. */
  readonly warn: (message: string, error: unknown) => void;
}

/**
 * The watcher's side: every status change goes in, and the file is rewritten when the segment it shows changed.
 * Changes before the watcher's first look at every session (`ready`) are only collected, so a start with fifty
 * sessions writes once.
 */
export class SegmentCache {
  private readonly statuses = new Map<string, AgentStatus | undefined>();
  private shown: string | undefined;
  private isReady = false;
  private failing = false;

  constructor(private readonly options: SegmentCacheOptions) {}

  change(sessionId: string, facts: Facts | undefined): void {
    if (facts) this.statuses.set(sessionId, sessionStatus(facts.agents));
    else this.statuses.delete(sessionId);
    if (this.isReady) this.flush();
  }

  /** After the first look: sessions not in `live` are gone. */
  ready(live: readonly string[]): void {
    const keep = new Set(live);
    for (const id of [...this.statuses.keys()]) if (!keep.has(id)) this.statuses.delete(id);
    this.isReady = true;
    this.flush();
  }

  /** The watcher is exiting: nobody keeps the file fresh any more, so it goes (`mam status --tmux` computes instead). */
  close(): void {
    removeIfPresent(segmentPath(this.options.dir));
  }

  /** The text in the file now (for tests and the bench). */
  get text(): string | undefined {
    return this.shown;
  }

  private flush(): void {
    const text = tmuxSegment(countStatuses(this.statuses.values()), true);
    if (text === this.shown) return;
    try {
      writeSegment(this.options.dir, text);
      this.shown = text;
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.warn(`cannot write the tmux status segment ${segmentPath(this.options.dir)}; retried on the next change`, error);
      this.failing = true;
    }
  }
}
