import { readdirSync } from 'node:fs';

/**
 * The fast hook's spool files by name and header, for the watcher (src/facts/spool.ts) and for the readers of status
 * (src/facts/pending-approval.ts). Kept free of the recording code: `mam status` loads this and nothing of `mam hook`.
 *
 * A name is `<clock>-<pid>`, or `<clock>-<pid>.<event>` when the hook was told its event (`--event`, which
 * `mam hooks install` passes for the events a reader looks at before the watcher records them). `<clock>` is the boot
 * clock in 1/100 s when the hook ran and `<pid>` the hook's: sorting by both gives the order the hooks ran in.
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

/** The payload files waiting in `spool`, oldest hook first; temp files are not among them. */
export function spoolNames(spool: string): SpoolName[] {
  let names: string[];
  try {
    names = readdirSync(spool);
  } catch {
    return [];
  }
  return names.flatMap((name) => spoolNameOf(name) ?? []).sort((a, b) => a.clock - b.clock || a.pid - b.pid);
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
