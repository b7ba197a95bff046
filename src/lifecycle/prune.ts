import { appendFile } from 'node:fs/promises';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { timestampMs, type RegistryEntry } from '../registry/schema.js';
import type { LockOptions } from '../registry/lock.js';
import { historyFile } from './history.js';

/**
 * `mam prune`: ended sessions leave the registry for `<registry>.history.jsonl` once they are older than a bound,
 * so a registry watched for weeks stays the size of what is live (issue 13: a 10-minute soak grew it 20 → 95 KB,
 * and every pass's cost with it). The history line is delete's, with `action: 'prune'`.
 */

/** Default bound of `mam prune` and the monitor's `retention:`. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

export interface Prunable {
  readonly entry: RegistryEntry;
  /** When it ended (terminated_at / stopped_at), epoch ms. */
  readonly endedMs: number;
}

/**
 * Which entries to prune: `terminated` ones, and `stopped` ones that cannot be resumed (`resumable: false`), that
 * ended more than `retentionMs` before `now`. Running and starting entries never are, nor a stopped one that can be
 * resumed, nor one whose end time cannot be read (a person may have written it by hand: it is theirs to delete).
 * `retentionMs` of 0 (or less) prunes nothing.
 */
export function selectPrunable(entries: readonly RegistryEntry[], now: number, retentionMs: number): Prunable[] {
  if (!(retentionMs > 0)) return [];
  const selected: Prunable[] = [];
  for (const entry of entries) {
    const endedMs = endedAt(entry);
    if (endedMs !== undefined && now - endedMs > retentionMs) selected.push({ entry, endedMs });
  }
  return selected;
}

function endedAt(entry: RegistryEntry): number | undefined {
  if (entry.status === 'terminated') return timestampMs(entry.terminated_at ?? null) ?? epochMs(entry.terminated_at_epoch);
  if (entry.status === 'stopped' && entry.resumable === false) return timestampMs(entry.stopped_at ?? null) ?? epochMs(entry.stopped_at_epoch);
  return undefined;
}

function epochMs(seconds: number | null | undefined): number | undefined {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

export interface PruneOptions {
  readonly registryFile: string;
  readonly olderThanMs: number;
  readonly dryRun: boolean;
  readonly now: () => number;
  readonly lock?: LockOptions;
}

export interface PruneReport {
  readonly registry: string;
  readonly history: string;
  readonly older_than_seconds: number;
  readonly dry_run: boolean;
  /** What was moved (or, with dry_run, would be). */
  readonly pruned: readonly { readonly name: string; readonly status: string; readonly ended_at: string }[];
  /** Entries left in the registry. */
  readonly kept: number;
}

export async function pruneRegistry(options: PruneOptions): Promise<PruneReport> {
  const history = historyFile(options.registryFile);
  const report = (selected: readonly Prunable[], total: number): PruneReport => ({
    registry: options.registryFile,
    history,
    older_than_seconds: Math.round(options.olderThanMs / 1000),
    dry_run: options.dryRun,
    pruned: selected.map(({ entry, endedMs }) => ({ name: entry.name, status: entry.status, ended_at: new Date(endedMs).toISOString() })),
    kept: total - selected.length,
  });
  // Nothing to prune is the usual answer: it takes no lock and writes nothing.
  const seen = await readRegistry(options.registryFile);
  const candidates = selectPrunable(seen.entries, options.now(), options.olderThanMs);
  if (options.dryRun || candidates.length === 0) return report(candidates, seen.entries.length + seen.invalid.length);
  return updateRegistry(
    options.registryFile,
    async (registry) => {
      // Decided again on what is under the lock: an entry resumed or deleted since the first read is left alone.
      const now = options.now();
      const selected = selectPrunable(registry.entries, now, options.olderThanMs);
      if (selected.length === 0) return { changed: false, result: report(selected, registry.entries.length + registry.invalid.length) };
      const at = new Date(now).toISOString();
      // History first: a write that then fails leaves a line too many, never an entry lost.
      await appendFile(history, selected.map(({ entry }) => `${JSON.stringify({ at, action: 'prune', entry })}\n`).join(''));
      registry.sessions.remove(new Set(selected.map(({ entry }) => entry.name)));
      return { changed: true, result: report(selected, registry.entries.length + registry.invalid.length) };
    },
    options.lock,
  );
}
