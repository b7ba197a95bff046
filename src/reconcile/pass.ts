import type { ParsedRegistry, SessionEdits } from '../registry/document.js';
import { claimSession } from '../tmux/session.js';
import { readRegistry, updateRegistry, type CachedRegistryReader } from '../registry/store.js';
import type { LockOptions } from '../registry/lock.js';
import { removeStaleTempFiles } from '../registry/atomic.js';
import { killSessionOfPane } from '../tmux/session.js';
import { observe, type ObserveOptions } from './observe.js';
import { reconcile, type ReconcileOptions } from './reconcile.js';
import { isEmptyPatch, type Drift, type Problem, type ReconcileResult, type RegistryPatch } from './types.js';

/**
 * One reconcile pass against the registry file. The common case — reality matches — takes no lock and
 * writes nothing. When there is something to change, the registry is re-read under the lock and the
 * pure reconcile runs again on that fresh copy (with the same observation), so an edit that landed in
 * between is neither lost nor overridden: the grace window protects a just-created entry.
 */
export interface PassOptions {
  readonly registryFile: string;
  readonly dryRun: boolean;
  readonly observe: ObserveOptions;
  readonly reconcile?: ReconcileOptions;
  readonly lock?: LockOptions;
  readonly now: () => number;
  /** Reuses the last parse while the registry file is unchanged (long-running loops). */
  readonly reader?: CachedRegistryReader;
}

export interface PassReport {
  readonly at: string;
  readonly registry: string;
  readonly dry_run: boolean;
  /** Whether the registry file was rewritten by this pass. */
  readonly written: boolean;
  readonly drifts: readonly Drift[];
  /** Invalid entries and parts of reality that could not be judged. */
  readonly problems: readonly Problem[];
}

export async function runPass(options: PassOptions): Promise<PassReport> {
  // Most passes write nothing, so they sweep dead writers' temp files too (only the dead's: safe without the lock).
  if (!options.dryRun) await removeStaleTempFiles(options.registryFile);
  let registry: ParsedRegistry | undefined = await (options.reader ? options.reader.read(options.registryFile) : readRegistry(options.registryFile));
  const observation = await observe(registry, options.observe, options.now);
  let result: ReconcileResult = reconcile(registry, observation, options.now(), options.reconcile);
  let registryProblems = invalidEntryProblems(registry);
  let written = false;

  if (!options.dryRun && !isEmptyPatch(result.patch)) {
    // The write re-reads the file under the lock: let go of this parse first, so a large registry is not held
    // twice (it was half the peak memory of a writing pass). The file is about to change anyway.
    registry = undefined;
    options.reader?.forget();
    ({ result, registryProblems, written } = await updateRegistry(
      options.registryFile,
      async (fresh) => {
        const freshResult = await claimSessions(reconcile(fresh, observation, options.now(), options.reconcile), options);
        const changed = applyPatch(fresh.sessions, freshResult.patch);
        return { changed, result: { result: freshResult, registryProblems: invalidEntryProblems(fresh), written: changed } };
      },
      options.lock,
    ));
  }
  // Dead sessions mam started are closed only now that the registry holds what their panes said (issue 13.4).
  if (!options.dryRun) for (const close of result.closes ?? []) await killSessionOfPane(close.tmux_server, close.pane_id, options.observe.tmux);

  return {
    at: new Date(observation.at).toISOString(),
    registry: options.registryFile,
    dry_run: options.dryRun,
    written,
    drifts: result.drifts,
    problems: [...registryProblems, ...result.problems],
  };
}

/**
 * Marks every session the pass is about to register as this registry's (`@mam_registry`), before the registry is
 * written: a session another registry claimed first (two registries' passes racing for one unmarked session; tmux
 * lets exactly one `set-option -o` win) is dropped from the patch, so it is never registered twice. A session
 * marked but never written (the write failed) is adopted by the next pass: it carries our mark.
 */
async function claimSessions(result: ReconcileResult, options: PassOptions): Promise<ReconcileResult> {
  if (result.claims.length === 0) return result;
  const lost = new Set<string>();
  for (const claim of result.claims) {
    const won = await claimSession(claim.tmux_server, claim.session, options.registryFile, claim.from, options.observe.tmux);
    if (!won) lost.add(claim.session);
  }
  if (lost.size === 0) return result;
  const additionLost = (session: string): boolean => lost.has(session) && result.patch.additions.some((entry) => entry.name === session);
  return {
    ...result,
    drifts: result.drifts.filter((drift) => !(drift.class === 'B' && additionLost(drift.session))),
    patch: { ...result.patch, additions: result.patch.additions.filter((entry) => !lost.has(entry.name)) },
    claims: result.claims.filter((claim) => !lost.has(claim.session)),
  };
}

/** Applies a patch in place, touching only the entries it names; true when anything was changed. */
export function applyPatch(sessions: SessionEdits, patch: RegistryPatch): boolean {
  let changed = false;
  for (const { session, set, unset } of patch.updates) {
    changed = sessions.set(session, set) || changed;
    if (unset) changed = sessions.unset(session, unset) || changed;
  }
  for (const entry of patch.additions) {
    sessions.append(entry);
    changed = true;
  }
  return changed;
}

function invalidEntryProblems(registry: ParsedRegistry): Problem[] {
  return registry.invalid.map((bad) => ({
    kind: 'invalid-entry' as const,
    ...(bad.name === undefined ? {} : { session: bad.name }),
    ...(bad.line === undefined ? {} : { line: bad.line }),
    message: `${registry.file}:${bad.line ?? '?'}: entry ${bad.index}${bad.name === undefined ? '' : ` (${JSON.stringify(bad.name)})`} skipped: ${bad.reason}`,
  }));
}
