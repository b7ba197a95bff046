import { readFileSync } from 'node:fs';

/**
 * Which boot of this host we are in. Linux gives every boot a random id (/proc/sys/kernel/random/boot_id), so an id
 * recorded in a registry entry that differs from today's means the host rebooted since; `btime` in /proc/stat is when
 * this boot began (what happened before it belongs to an earlier boot). Both are undefined where there is no /proc
 * (then a lost tmux server is never called a reboot: docs/lifecycle.md, 'restore').
 */
export interface HostBoot {
  readonly bootId: string | undefined;
  /** Epoch ms this boot began. */
  readonly bootedAtMs: number | undefined;
}

const BOOT_ID = /^[0-9a-f-]{8,64}$/;

export function hostBoot(): HostBoot {
  return { bootId: bootId(), bootedAtMs: bootedAtMs() };
}

export function bootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return BOOT_ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

function bootedAtMs(): number | undefined {
  try {
    const line = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return line ? Number(line[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}
