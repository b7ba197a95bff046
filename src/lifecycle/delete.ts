import { appendFile } from 'node:fs/promises';
import { isMap, isSeq } from 'yaml';
import { MamError } from '../util/errors.js';
import { SESSIONS_KEY } from '../registry/document.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { newSessionServer, type LifecycleContext } from './context.js';
import { historyFile } from './history.js';
import { refuseOwnedElsewhere, refuseStarting } from './ownership.js';
import { reportToJob } from './stop.js';

/**
 * `mam delete`: remove a stopped or terminated entry. What was removed is appended, as one JSON line,
 * to `<registry>.history.jsonl` beside the registry, under the same lock, so nothing is forgotten.
 */
export { historyFile };

export async function deleteSession(context: LifecycleContext, session: string): Promise<Record<string, unknown>> {
  // A live tmux session of this name that another registry owns: its entry is that registry's to delete.
  const known = (await readRegistry(context.registryFile)).entries.find((candidate) => candidate.name === session);
  await refuseOwnedElsewhere(context, known ? (known.tmux_server ?? null) : newSessionServer(undefined, context.env), session);
  const removed = await updateRegistry(
    context.registryFile,
    async (registry) => {
      const entry = registry.entries.find((candidate) => candidate.name === session);
      if (!entry) {
        throw new MamError(registry.names.has(session) ? `${session}: its registry entry is invalid; fix or remove it by hand` : `${session} is not in the registry ${context.registryFile}`);
      }
      refuseStarting(entry, 'delete it');
      // `--session=NAME`, not `--session NAME`: the hint must work as typed for a name that starts with `-`.
      if (entry.status === 'running') throw new MamError(`${session} is running; stop it first (mam stop --session=${session}), then delete it`);
      const sessions = isMap(registry.document.contents) ? registry.document.contents.get(SESSIONS_KEY, true) : undefined;
      if (!isSeq(sessions)) throw new MamError(`${context.registryFile}: no ${SESSIONS_KEY} list`);
      const index = sessions.items.findIndex((item) => isMap(item) && item.get('name') === session);
      sessions.items.splice(index, 1);
      const record = { at: new Date(context.now()).toISOString(), action: 'delete', entry };
      await appendFile(historyFile(context.registryFile), `${JSON.stringify(record)}\n`);
      return { changed: true, result: record };
    },
    context.lock,
  );
  // A job still open when its session is deleted will never hear from it again: end it, and say why.
  await reportToJob(context, removed.entry, 'error', `session ${session} was deleted`);
  return removed;
}
