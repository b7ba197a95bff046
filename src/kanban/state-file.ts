import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../registry/atomic.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { initialState, MonitorState } from './coalesce.js';

/**
 * The per-workspace coalescing state: `<workspace>.state` in `monitorStateDir` (src/config.ts). Written atomically after every pass, so a restarted worker
 * resumes with what it had already said and what it still owes the card.
 */

/** The workspace a registry belongs to: the directory holding `.hermes/`, else the registry's own. */
export function workspaceName(registryFile: string): string {
  const directory = path.dirname(registryFile);
  const workspace = path.basename(directory) === '.hermes' ? path.dirname(directory) : directory;
  return (path.basename(workspace) || 'root').replace(/[^A-Za-z0-9_.-]/g, '_');
}

export interface LoadedState {
  readonly state: MonitorState;
  /** Why a stored state was not usable (it was set aside as `<file>.corrupt`), for a log line. */
  readonly discarded?: string;
}

export async function loadState(file: string, card: string): Promise<LoadedState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: initialState(card) };
    throw error;
  }
  const parsed = MonitorState.safeParse(parseJsonOrUndefined(text));
  if (!parsed.success) {
    // Keep the unreadable file for a person to look at; start clean rather than stop monitoring.
    await rename(file, `${file}.corrupt`).catch(() => undefined);
    return { state: initialState(card), discarded: `${file} was unreadable and was moved to ${file}.corrupt` };
  }
  // Another card: what was said there is not on this card. Start afresh (undelivered lines included:
  // they belonged to the other card's story).
  // The prune schedule is the registry's, not the card's: it carries over.
  const { lastPruneAt } = parsed.data;
  return parsed.data.card === card ? { state: parsed.data } : { state: { ...initialState(card), ...(lastPruneAt ? { lastPruneAt } : {}) } };
}

export async function saveState(file: string, state: MonitorState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(state)}\n`);
}
