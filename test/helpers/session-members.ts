import { readdirSync, readFileSync } from 'node:fs';

/**
 * Live (not zombie) processes whose session id is `sid` — for a tmux pane, its pane pid — however deep or reparented:
 * what an agent started and left behind. Read from /proc directly (unlike src/proc/tree.ts `sessionMembers`, no
 * start-time bound: the test asks after the leader may be gone).
 */
export function sessionMembers(sid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[3]) === sid) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * The sessions (pane pids) of the agents a test started; `killAll` SIGKILLs what is left of them, by pid, found by
 * session id and never by name, and forgets them.
 */
export class SessionReaper {
  private readonly sids: number[] = [];

  track(sid: number): void {
    this.sids.push(sid);
  }

  killAll(): void {
    for (const sid of this.sids.splice(0)) {
      for (const pid of sessionMembers(sid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
