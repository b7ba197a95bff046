import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { AgentKind } from '../agents/index.js';

/**
 * Whether a pane runs the agent `mam pane spawn` started, at its prompt, before anything is typed into it: the
 * role prompt holds shell commands in backticks, and a shell (not an agent) would run them — report back to the
 * master, mark the pane done — instead of reading them (docs/pane.md, 'Nothing is typed into a non-agent').
 */
export interface PaneProcess {
  /** The command line of the terminal's foreground process (the agent, or a shell, at the prompt). */
  readonly argv: readonly string[];
  /** The executable it runs (`/proc/<pid>/exe`), when it can be read. */
  readonly exe: string | undefined;
}

export type AgentCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Interpreters that, run without a script, are an interactive shell at a prompt. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'fish', 'ksh', 'mksh', 'ash', 'tcsh', 'csh', 'busybox']);

const base = (word: string | undefined): string => (word === undefined ? '' : path.basename(word).replace(/^-/, ''));

/**
 * The decision, pure. `paneCommand` is tmux's pane_current_command; `process` the foreground process, when it can be
 * read (Linux); `screen` the pane now. The agent is there when the foreground process is it — by the name its
 * module recognises, its command, or the script an interpreter runs (`node …/codex`, `sh …/claude`) — and not an
 * interactive shell, and, for an agent with a known prompt, that prompt is on the screen.
 */
export function checkAgentInPane(kind: AgentKind, seen: { readonly paneCommand: string; readonly process: PaneProcess | undefined; readonly screen: string | undefined }): AgentCheck {
  const argv = seen.process?.argv ?? [];
  const script = argv.slice(1).find((word) => !word.startsWith('-'));
  const program = base(seen.process?.exe ?? argv[0] ?? seen.paneCommand);
  const names = [seen.paneCommand, base(argv[0]), base(script), base(seen.process?.exe)].filter((name) => name !== '');
  const isAgent = (name: string): boolean => name === kind.command || kind.matchesPaneCommand(name);
  if (SHELLS.has(program) && !isAgent(base(script))) {
    return { ok: false, reason: `the pane runs a shell (${program}${argv.length > 0 ? `: ${argv.join(' ')}` : ''}), not ${kind.command} at its prompt` };
  }
  if (!names.some(isAgent)) {
    return { ok: false, reason: `the pane runs ${argv.length > 0 ? argv.join(' ') : seen.paneCommand || 'nothing'}, not ${kind.command}` };
  }
  if (kind.readyPattern && seen.screen !== undefined && !kind.readyPattern.test(seen.screen)) {
    return { ok: false, reason: `${kind.command}'s prompt (${kind.readyPattern.source}) is not on the pane's screen` };
  }
  return { ok: true };
}

/**
 * The foreground process of the terminal whose session leader is `panePid` (the pane's process): the leader of its
 * terminal's foreground process group (`/proc/<pid>/stat`, tpgid). Undefined without /proc, or once it is gone;
 * the check then goes by tmux's pane_current_command alone.
 */
export function foregroundProcess(panePid: number): PaneProcess | undefined {
  try {
    const stat = readFileSync(`/proc/${panePid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces): state ppid pgrp session tty_nr tpgid …
    const tpgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[5]);
    const pid = Number.isInteger(tpgid) && tpgid > 0 ? tpgid : panePid;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((word, index, all) => word !== '' || index < all.length - 1);
    let exe: string | undefined;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      exe = undefined;
    }
    return { argv, exe };
  } catch {
    return undefined;
  }
}
