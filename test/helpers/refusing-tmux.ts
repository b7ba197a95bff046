import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * How a tmux wrapper treats control-mode (`-C`) clients, as tmux versions and setups have been seen to:
 * - `exit-at-once`: prints `%exit` and exits without reaching the server (tmux 3.6a answers every new `-C`
 *   client with `%exit`: agentoast #193);
 * - `stdin-closed`: the real `tmux -C`, with stdin closed — it attaches (creating the monitor session) and
 *   exits at once, leaving that session behind unless someone removes it;
 * - `exits-after-1s`: the real `tmux -C`, fed our commands for one second, then its stdin closes — a client
 *   that attaches and answers, then goes.
 * Every other invocation runs the real tmux. Each `-C` invocation appends a line to the spawn log.
 */
export type RefusalMode = 'exit-at-once' | 'stdin-closed' | 'exits-after-1s';

export interface RefusingTmux {
  /** For MAM_TMUX_BIN. */
  readonly bin: string;
  /** How many `-C` clients were started so far. */
  spawns(): Promise<number>;
}

export async function refusingTmux(directory: string, mode: RefusalMode): Promise<RefusingTmux> {
  const bin = path.join(directory, `tmux-${mode}.sh`);
  const log = path.join(directory, `tmux-${mode}.spawns`);
  const control = {
    'exit-at-once': `echo '%exit'; exit 0`,
    'stdin-closed': `exec tmux "$@" </dev/null`,
    'exits-after-1s': `timeout 1 cat | tmux "$@"; exit $?`,
  }[mode];
  await writeFile(
    bin,
    `#!/bin/sh\nfor arg in "$@"; do\n  if [ "$arg" = -C ]; then\n    echo "$$" >> '${log}'\n    ${control}\n  fi\ndone\nexec tmux "$@"\n`,
  );
  await chmod(bin, 0o755);
  return {
    bin,
    spawns: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
  };
}
