import { launcherFor } from '../agents/index.js';
import type { Facts } from '../facts/derive.js';
import { readRegistry } from '../registry/store.js';
import type { RegistryEntry } from '../registry/schema.js';
import type { AutoResume } from '../watch/watcher.js';
import { deliverMessage } from './deliver.js';

/** What is sent when `auto_resume_text` is not set. */
export const DEFAULT_RESUME_TEXT = 'continue';

/**
 * The watcher's auto-resume adapter (docs/status.md, 'Usage limits'): the registry entry the session runs in (its
 * fact file records `mam_session` and `mam_registry`) says whether to resume and with what text, and the text goes
 * through the confirmed-delivery send (typed, submitted, seen in the pane), as `mam pane send` does.
 */
export function autoResumer(options: { readonly tmuxBin?: string | undefined; readonly env?: NodeJS.ProcessEnv }): AutoResume {
  const entryOf = async (facts: Facts): Promise<RegistryEntry | undefined> => {
    const name = facts.session?.mam_session;
    const registry = facts.session?.mam_registry;
    if (!name || !registry) return undefined;
    const parsed = await readRegistry(registry).catch(() => undefined);
    return parsed?.entries.find((entry) => entry.name === name && entry.status === 'running');
  };
  return {
    async text(facts) {
      const entry = await entryOf(facts);
      return entry?.auto_resume === true ? (entry.auto_resume_text ?? DEFAULT_RESUME_TEXT) : undefined;
    },
    async send(facts, text) {
      const entry = await entryOf(facts);
      if (!entry) return { ok: false, detail: `no running registry entry ${facts.session?.mam_session ?? '?'} any more` };
      const target = { server: entry.tmux_server ?? null, target: facts.session?.pane?.id ?? `=${entry.name}:`, tmux: { ...(options.tmuxBin ? { bin: options.tmuxBin } : {}), ...(options.env ? { env: options.env } : {}) } };
      const receipt = await deliverMessage(target, { text, launcher: launcherFor(entry.agent), verify: true });
      return { ok: receipt.ok, detail: receipt.detail };
    },
  };
}
