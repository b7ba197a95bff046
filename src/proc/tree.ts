import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Processes, read from Linux /proc. A pid is identified together with its start time, so a pid reused
 * by an unrelated process after ours died is never mistaken for ours (nor killed).
 */
export interface ProcessId {
  readonly pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly start: number;
}

interface StatLine {
  readonly comm: string;
  readonly ppid: number;
  readonly start: number;
}

function readStat(pid: number): StatLine | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may hold spaces and parentheses itself.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(fields[1]), start: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/**
 * Without /proc (macOS, the BSDs) a pid is only checked with kill(pid, 0): no start time (start 0), so no
 * protection against reuse, and no process tree. Linux is the platform this is built and tested on.
 */
const HAS_PROC = existsSync('/proc/self/stat');

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'fish', 'ksh', 'ash']);

/**
 * The process a hook speaks for: `pid` (the hook's parent), or the first process above it that is not a
 * shell — agents run hook commands through `sh -c`, and that shell is gone the moment the hook returns.
 */
export function agentAncestor(pid: number): ProcessId | undefined {
  let current = pid;
  for (let depth = 0; depth < 8; depth++) {
    const stat = readStat(current);
    if (!stat) return undefined;
    if (!SHELLS.has(stat.comm) || stat.ppid <= 1) return { pid: current, start: stat.start };
    current = stat.ppid;
  }
  return undefined;
}

/** The argv of `pid`, or undefined when it is gone or unreadable (kernel threads have none). */
export function commandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw === '' ? undefined : raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** The parent of `pid`, or undefined when it is gone or unreadable. */
export function parentPid(pid: number): number | undefined {
  const ppid = readStat(pid)?.ppid;
  return ppid !== undefined && Number.isInteger(ppid) ? ppid : undefined;
}

export function processId(pid: number): ProcessId | undefined {
  if (!HAS_PROC) return signalable(pid) ? { pid, start: 0 } : undefined;
  const stat = readStat(pid);
  return stat ? { pid, start: stat.start } : undefined;
}

/** `root` and every process below it, root first. */
export function processTree(root: number): ProcessId[] {
  if (!HAS_PROC) return processId(root) ? [{ pid: root, start: 0 }] : [];
  const children = new Map<number, number[]>();
  const starts = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const stat = readStat(pid);
    if (!stat) continue;
    starts.set(pid, stat.start);
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const tree: ProcessId[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    const start = starts.get(pid);
    if (start === undefined) continue;
    tree.push({ pid, start });
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Still running, and still the same process (not a reused pid); zombies count as gone. */
export function isAlive(id: ProcessId): boolean {
  if (!HAS_PROC) return signalable(id.pid);
  try {
    const stat = readFileSync(`/proc/${id.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && Number(fields[19]) === id.start;
  } catch {
    return false;
  }
}

/** Sends `signal` to each process that is still the one we recorded. */
export function signalAll(ids: readonly ProcessId[], signal: NodeJS.Signals): void {
  for (const id of ids) {
    if (!isAlive(id)) continue;
    try {
      process.kill(id.pid, signal);
    } catch {
      // Gone between the check and the signal: what we wanted.
    }
  }
}
