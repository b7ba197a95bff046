import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// child_process only where there is no /proc: this module is on every hook's path, which pays for each module.
const requireBuiltin = createRequire(import.meta.url);

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
  if (!HAS_PROC) return psRows(['-p', String(pid)]).find((row) => row.pid === pid);
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
 * Without /proc (macOS, the BSDs) the same facts come from `ps`: start time as epoch seconds from `lstart`
 * (instead of clock ticks since boot: only ever compared with itself), the command line as one string.
 * MAM_PROCESS_TABLE=ps forces that path on Linux, which is how it is tested.
 */
const HAS_PROC = process.env['MAM_PROCESS_TABLE'] !== 'ps' && existsSync('/proc/self/stat');

interface PsRow extends StatLine {
  readonly pid: number;
  readonly args: string;
}

const PS_LINE = /^\s*(\d+)\s+(\d+)\s+(\w{3}\s+\w{3}\s+\d+\s+[\d:]+\s+\d{4})\s+(\S*)\s*(.*)$/;

function psRows(select: readonly string[]): PsRow[] {
  let out: string;
  try {
    // comm first (it has no spaces), then the whole command line; LC_ALL=C for English month names in lstart.
    const { execFileSync } = requireBuiltin('node:child_process') as typeof import('node:child_process');
    out = execFileSync('ps', [...select, '-o', 'pid=', '-o', 'ppid=', '-o', 'lstart=', '-o', 'comm=', '-o', 'command='], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  return out.split('\n').flatMap((line): PsRow[] => {
    const match = PS_LINE.exec(line);
    if (!match) return [];
    const start = Date.parse(match[3]!) / 1000;
    return Number.isFinite(start) ? [{ pid: Number(match[1]), ppid: Number(match[2]), start, comm: path.basename(match[4]!), args: match[5]! }] : [];
  });
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
  if (!HAS_PROC) {
    const args = psRows(['-p', String(pid)])[0]?.args;
    return args ? [args] : undefined;
  }
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

/**
 * Whether a process with this pid exists: one kill(pid, 0), the cheapest check there is, but blind to a reused
 * pid — for frequent sweeps whose slower pass checks the start time with isAlive.
 */
export function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function processId(pid: number): ProcessId | undefined {
  const stat = readStat(pid);
  return stat ? { pid, start: stat.start } : undefined;
}

/** `root` and every process below it, root first. */
export function processTree(root: number): ProcessId[] {
  const children = new Map<number, number[]>();
  const starts = new Map<number, number>();
  const table = HAS_PROC
    ? readdirSync('/proc').flatMap((name) => {
        const stat = /^\d+$/.test(name) ? readStat(Number(name)) : undefined;
        return stat ? [{ pid: Number(name), ...stat }] : [];
      })
    : psRows(['-A']);
  for (const { pid, ppid, start } of table) {
    starts.set(pid, start);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
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

/**
 * Every live process in the session (`setsid`) that `leader` heads — a tmux pane's process is such a leader — that
 * started no earlier than the leader did. Processes stay in their session when their parent dies and they are
 * reparented (to pid 1 or a subreaper), so this finds what a process tree walked from the leader no longer reaches:
 * the background children an agent left behind. The start-time bound keeps a session whose leader reused the pid
 * number much earlier out. Without /proc, the leader's process group stands in for its session (`ps -o pgid`):
 * `ps -o sess` is not a session id everywhere.
 */
export function sessionMembers(leader: ProcessId): ProcessId[] {
  if (!HAS_PROC) return groupMembersPs(leader);
  const members: ProcessId[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const start = Number(fields[19]);
      if (Number(fields[3]) === leader.pid && fields[0] !== 'Z' && start >= leader.start) members.push({ pid: Number(name), start });
    } catch {
      // Gone while the table was read.
    }
  }
  return members;
}

function groupMembersPs(leader: ProcessId): ProcessId[] {
  let out: string;
  try {
    const { execFileSync } = requireBuiltin('node:child_process') as typeof import('node:child_process');
    out = execFileSync('ps', ['-A', '-o', 'pid=', '-o', 'pgid='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  return out.split('\n').flatMap((line): ProcessId[] => {
    const [pid, pgid] = line.trim().split(/\s+/).map(Number);
    if (pgid !== leader.pid || pid === undefined || !Number.isInteger(pid)) return [];
    const id = processId(pid);
    return id && id.start >= leader.start ? [id] : [];
  });
}

/** Still running, and still the same process (not a reused pid); zombies count as gone. */
export function isAlive(id: ProcessId): boolean {
  if (!HAS_PROC) return readStat(id.pid)?.start === id.start;
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
