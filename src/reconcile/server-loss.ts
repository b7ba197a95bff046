import type { HostBoot } from '../proc/boot.js';
import type { EntryFields } from '../registry/document.js';
import type { RegistryEntry, ServerLoss } from '../registry/schema.js';
import { isoSeconds, timestampMs } from '../registry/time.js';
import type { ServerProcess, ServerSnapshot } from '../tmux/client.js';

/**
 * Did a session go with its tmux server? Pure: the entry's record of where it last ran (`boot_id`, `tmux_server_pid`,
 * `tmux_server_started_at`), its server as seen now, and this boot. Used by reconcile (class A records the answer
 * as `tmux_server_lost`) and by `mam restore`, which starts such sessions again (docs/lifecycle.md, 'restore').
 */

/** The fields that record where a session runs now (those known): written by create, resume and reconcile (B). */
export function runFields(boot: HostBoot, server: ServerProcess | undefined): EntryFields {
  return {
    ...(boot.bootId === undefined ? {} : { boot_id: boot.bootId }),
    ...(server === undefined ? {} : { tmux_server_pid: server.pid, tmux_server_started_at: isoSeconds(server.startedAt * 1000) }),
  };
}

/**
 * Why the entry's session is gone, when its server went too: `reboot` when the host booted since the session last
 * started (another boot id than the one recorded), `crash` when on this boot
 * its server is not running or is another process than the one recorded. Undefined when the server that ran it is
 * still up (the session was ended on a live server: a person's kill-session, the agent's own exit) or cannot be
 * judged (the server could not be read, or nothing was recorded to compare).
 *
 * A server that exits because its last session was closed by hand looks the same as one that crashed — tmux leaves
 * its socket file either way — so that case counts as `crash` too, and `mam restore` shows it before it starts it.
 */
export function serverLoss(entry: RegistryEntry, snapshot: ServerSnapshot | undefined, boot: HostBoot): ServerLoss | undefined {
  if (!snapshot || snapshot.state === 'unknown') return undefined;
  if (rebootedSince(entry, boot)) return 'reboot';
  if (snapshot.state === 'absent') return 'crash';
  const recordedPid = entry.tmux_server_pid;
  const now = snapshot.process;
  if (recordedPid == null || now === undefined) return undefined;
  const recordedStart = timestampMs(entry.tmux_server_started_at ?? null);
  const sameStart = recordedStart === undefined || Math.floor(recordedStart / 1000) === now.startedAt;
  return now.pid === recordedPid && sameStart ? undefined : 'crash';
}

/**
 * Only a recorded boot id tells: an entry written before mam recorded them (or where there is no /proc) is never
 * called a reboot — its loss is judged by its server alone, and a server that is gone counts as a crash.
 */
function rebootedSince(entry: RegistryEntry, boot: HostBoot): boolean {
  return Boolean(entry.boot_id && boot.bootId && entry.boot_id !== boot.bootId);
}

/**
 * How many sessions went with the host's last reboot and are still down: entries a pass marked `tmux_server_lost:
 * reboot` during this boot (and not restored since). Undefined when there are none or this boot cannot be named.
 */
export function lostAtReboot(entries: readonly RegistryEntry[], boot: HostBoot): { readonly bootId: string; readonly count: number } | undefined {
  if (!boot.bootId) return undefined;
  const since = boot.bootedAtMs ?? Number.NEGATIVE_INFINITY;
  const count = entries.filter((entry) => {
    if (entry.status !== 'terminated' || entry.tmux_server_lost !== 'reboot') return false;
    const at = timestampMs(entry.terminated_at ?? null);
    return at === undefined || at >= since;
  }).length;
  return count > 0 ? { bootId: boot.bootId, count } : undefined;
}
