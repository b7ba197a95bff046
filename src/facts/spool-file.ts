import { readdirSync } from 'node:fs';
import { readTextOrUndefined } from '../util/files.js';

/**
 * The fast hook's spool files by name and header, for the watcher (src/facts/spool.ts) and for the readers of status
 * (src/facts/pending-approval.ts). Kept free of the recording code: `mam status` loads this and nothing of `mam hook`.
 *
 * A name is `<clock>-<pid>`, or `<clock>-<pid>.<event>` when the hook was told its event (`--event`, which
 * `mam hooks install` passes for the events a reader looks at before the watcher records them). `<clock>` is the boot
 * clock in 1/100 s when the hook ran and `<pid>` the hook's: sorting by both gives the order the hooks ran in — pids of
 * one tick taken across a wrap of the kernel's pid_max (32768 on many machines) are put back in the order handed out.
 */
const NAME = /^(\d+)-(\d+)(?:\.([A-Za-z]+))?$/;
export const SPOOL_MAGIC = 'mam-hook-spool 1';
/** The event whose spooled payload readers of status count before the watcher records it (src/facts/pending-approval.ts). */
export const APPROVAL_EVENT = 'PermissionRequest';

export interface SpoolName {
  readonly name: string;
  readonly clock: number;
  readonly pid: number;
  /** The event the hook was told it runs for, when it was. */
  readonly event: string | undefined;
}

export function spoolNameOf(name: string): SpoolName | undefined {
  const match = NAME.exec(name);
  return match ? { name, clock: Number(match[1]), pid: Number(match[2]), event: match[3] } : undefined;
}

/**
 * Two hooks' pids from the same tick, in the order the kernel handed them out: pids grow until pid_max and start
 * again from the bottom, so of two pids more than half the range apart the smaller one is the later.
 */
export function pidOrder(a: number, b: number, pidMax: number): number {
  const apart = a - b;
  return Math.abs(apart) > pidMax / 2 ? -apart : apart;
}

let pidMaxRead: number | undefined;
/** The kernel's pid_max; without /proc, Linux's largest, which makes a wrap look as rare as it can be. */
function pidMax(): number {
  if (pidMaxRead === undefined) {
    const value = Number.parseInt(readTextOrUndefined('/proc/sys/kernel/pid_max') ?? '', 10);
    pidMaxRead = Number.isInteger(value) && value > 0 ? value : 4_194_304;
  }
  return pidMaxRead;
}

/** The payload files waiting in `spool`, oldest hook first; temp files are not among them. */
export function spoolNames(spool: string, pidLimit: number = pidMax()): SpoolName[] {
  let names: string[];
  try {
    names = readdirSync(spool);
  } catch {
    return [];
  }
  return names.flatMap((name) => spoolNameOf(name) ?? []).sort((a, b) => a.clock - b.clock || pidOrder(a.pid, b.pid, pidLimit));
}

/** A spool file's header fields (before the empty field) and where its payload starts; undefined when it has none. */
export function spoolHeader(bytes: Buffer): { readonly magic: string; readonly fields: ReadonlyMap<string, string>; readonly bodyStart: number } | undefined {
  const end = bytes.indexOf('\0\0');
  if (end < 0) return undefined;
  const [magic = '', ...fields] = bytes.subarray(0, end).toString('utf8').split('\0');
  return { magic, fields: new Map(fields.map((field): [string, string] => [field.slice(0, Math.max(0, field.indexOf('='))), field.slice(field.indexOf('=') + 1)])), bodyStart: end + 2 };
}

/** A positive integer header field, or undefined. */
export function headerNumber(fields: ReadonlyMap<string, string>, key: string): number | undefined {
  const value = Number(fields.get(key) || NaN);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}
