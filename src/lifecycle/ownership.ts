import { existsSync } from 'node:fs';
import { MamError } from '../util/errors.js';
import { deleteEntryFields, removeEntry, setEntryFields, type EntryFields } from '../registry/document.js';
import { isoSeconds, timestampMs, type RegistryEntry } from '../registry/schema.js';
import { updateRegistry } from '../registry/store.js';
import type { TmuxServer } from '../tmux/client.js';
import { sessionOwner } from '../tmux/session.js';
import type { LifecycleContext } from './context.js';

/**
 * Two things every mutator shares (issue 11):
 * - ownership: a tmux session carries `@mam_registry` = the registry that owns it; a session owned by another
 *   registry whose file still exists is that registry's business, and a mutator says so instead of acting;
 * - the `starting` phase: create and resume own their entry (status `starting`) before the tmux session can
 *   exist, and settle it — running, or back to what it was — once the agent has started or failed to.
 */

/** The other registry that owns tmux session `name`, when there is one and its file still exists. */
export async function ownedElsewhere(context: LifecycleContext, server: TmuxServer, name: string): Promise<string | undefined> {
  const found = await sessionOwner(server, name, context.tmux);
  if (!found.exists || found.owner === null || found.owner === context.registryFile) return undefined;
  // An owner whose file is gone cannot act on the session any more: it is up for adoption, not refused.
  return existsSync(found.owner) ? found.owner : undefined;
}

export async function refuseOwnedElsewhere(context: LifecycleContext, server: TmuxServer, name: string): Promise<void> {
  const owner = await ownedElsewhere(context, server, name);
  if (owner !== undefined) throw new MamError(`session ${name} belongs to registry ${owner}; run this with --registry ${owner}`);
}

/** Refuses to act on an entry another mam process is starting right now. */
export function refuseStarting(entry: RegistryEntry, what: string): void {
  if (entry.status !== 'starting') return;
  const since = timestampMs(entry.starting_at ?? entry.created_at ?? null);
  const by = entry.starting_pid == null ? 'mam' : `mam (pid ${entry.starting_pid})`;
  throw new MamError(
    `${entry.name} is being started by ${by}${since === undefined ? '' : ` since ${isoSeconds(since)}`}; wait for it to finish before you ${what} ` +
      `(if that process is gone, \`mam reconcile --once\` repairs the entry)`,
  );
}

/** The bookkeeping of the starting phase, removed once it is over. */
const STARTING_FIELDS = ['starting_pid', 'starting_at'] as const;

export function startingFields(now: number): EntryFields {
  return { status: 'starting', starting_pid: process.pid, starting_at: isoSeconds(now) };
}

/**
 * Ends the starting phase of `name`: sets `fields` (status running and pane facts, or the status it had before)
 * and drops the starting bookkeeping. Throws when the entry is gone or someone else has settled it meanwhile;
 * `remove` deletes the entry instead (a create that failed: nothing ran, nothing to remember).
 */
export async function settleStart(
  context: LifecycleContext,
  name: string,
  outcome: { readonly fields: EntryFields; readonly unset?: readonly (keyof RegistryEntry & string)[] } | { readonly remove: true },
): Promise<void> {
  await updateRegistry(
    context.registryFile,
    (registry) => {
      const entry = registry.entries.find((candidate) => candidate.name === name);
      const ours = entry !== undefined && (entry.status === 'starting' ? entry.starting_pid === process.pid : entry.status === 'running');
      if ('remove' in outcome) {
        // Only our own starting entry: never one another process has taken over since.
        const mine = entry?.status === 'starting' && entry.starting_pid === process.pid;
        return { changed: mine && removeEntry(registry.document, name), result: undefined };
      }
      // A pass may have repaired a starting entry to running already (its creator looked stale): still ours.
      if (!ours) throw new MamError(`${name} was changed in the registry while it was starting (it is ${entry?.status ?? 'gone'}); the new tmux session was closed`);
      setEntryFields(registry.document, name, outcome.fields);
      deleteEntryFields(registry.document, name, [...STARTING_FIELDS, ...(outcome.unset ?? [])]);
      return { changed: true, result: undefined };
    },
    context.lock,
  );
}
