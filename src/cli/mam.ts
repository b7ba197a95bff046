import { readFileSync } from 'node:fs';
import { errorMessage, MamError } from '../util/errors.js';
import type { Command, CliContext } from './command.js';
import { processContext, withArgv, writeLine } from './command.js';

/**
 * Commands load their modules only when run: agent hooks will call `mam` on every event, and loading
 * every command's dependencies (zod, yaml, execa, …) up front would tax each call.
 */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'reconcile',
    summary: 'reconcile the registry against tmux and agent files (drift classes A–D)',
    load: async () => (await import('./reconcile.js')).reconcileCommand,
  },
  ...(['create', 'resume', 'stop', 'delete'] as const).map((name) => ({
    name,
    summary: {
      create: 'start an agent in a new tmux session and register it',
      resume: 'start a stopped session again in its conversation',
      stop: 'stop a session gracefully and record it (exit keys → kill-session → SIGKILL)',
      delete: 'remove a stopped or terminated session from the registry',
    }[name],
    load: async () => (await import('./lifecycle.js'))[`${name}Command`],
  })),
  {
    name: 'restore',
    summary: 'after a reboot or a tmux crash: start the sessions that went with their tmux server again, throttled',
    load: async () => (await import('./restore.js')).restoreCommand,
  },
  {
    name: 'status',
    summary: 'every session: registry status, live in tmux, conversation, age',
    load: async () => (await import('./status.js')).statusCommand,
  },
  {
    name: 'attach',
    summary: 'put this terminal on a registered session (switch-client inside tmux, else attach until you detach)',
    load: async () => (await import('./attach.js')).attachCommand,
  },
  {
    name: 'ui',
    summary: 'the live dashboard: every session, needs-you-first, with keys to attach, create, stop, resume, delete',
    load: async () => (await import('./ui.js')).uiCommand,
  },
  {
    name: 'prune',
    summary: 'move ended sessions older than a bound (default 7d) into <registry>.history.jsonl',
    load: async () => (await import('./prune.js')).pruneCommand,
  },
  {
    name: 'hook',
    summary: 'record one agent hook payload (stdin) as working / needs approval / waiting',
    load: async () => (await import('./hook.js')).hookCommand,
  },
  {
    name: 'watch',
    summary: 'the status watcher: resolves rejects, interrupts, approvals and dead agents no hook reports (started by hooks)',
    load: async () => (await import('./watch.js')).watchCommand,
  },
  {
    name: 'job',
    summary: 'delegated jobs: submit, event, status, list, wait, verify, logs (events over MQTT)',
    load: async () => (await import('./job.js')).jobCommand,
  },
  {
    name: 'monitor',
    summary: 'the unattended monitor: reconcile loop + coalesced comments + heartbeats + stop (local board or Hermes Kanban)',
    load: async () => (await import('./monitor.js')).monitorCommand,
  },
  {
    name: 'lane',
    summary: 'the Kanban lane: a card assigned to claude-tmux (…) is worked by that agent in tmux, and the card follows it',
    load: async () => (await import('./lane.js')).laneCommand,
  },
  {
    name: 'broker',
    summary: 'run the embedded MQTT broker for delegated-job events in the foreground',
    load: async () => (await import('./broker.js')).brokerCommand,
  },
  {
    name: 'skills',
    summary: 'install the SKILL.md files this package ships into a Hermes home',
    load: async () => (await import('./skills.js')).skillsCommand,
  },
  {
    name: 'pane',
    summary: 'agents in panes of one window: spawn, send (confirmed delivery), kill, rebalance, register',
    load: async () => (await import('./pane.js')).paneCommand,
  },
  {
    name: 'hooks',
    summary: 'install or remove mam\'s agent hooks (Claude, Codex, Gemini settings)',
    load: async () => (await import('./hooks.js')).hooksCommand,
  },
];

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** Every exit status `mam` uses on purpose, as docs/environment.md lists them. */
const EXIT_CODES: readonly (readonly [string, string])[] = [
  ['0', 'done'],
  ['1', 'failed; the message on stderr says why and what to do'],
  ['2', 'partly done: reconcile --once could not judge everything; job event recorded but not published; restore brought back only some'],
  ['3', 'job wait: still running after --timeout'],
  ['64', 'usage error: unknown flag or subcommand, missing or malformed argument (nothing was done)'],
  ['75', 'the registry stayed locked by another writer (retry); a dispatched monitor asking Hermes to requeue'],
  ['130/143', 'create interrupted by SIGINT/SIGTERM (128 + the signal); it undid its step or registered the session'],
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'mam — keep many AI coding agents in tmux under one YAML registry, reconciled against reality',
    '',
    'Usage: mam <command> [options]      mam <command> --help      mam <command> <subcommand> --help',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Commands that act on one session take its name as a word (mam stop NAME) or as --session NAME; a name that',
    'starts with "-" goes after -- (mam stop -- -x). Every command that prints data takes --json.',
    '',
    'Exit codes:',
    ...EXIT_CODES.map(([code, meaning]) => `  ${code.padEnd(8)}  ${meaning}`),
    '',
    'Environment: MAM_REGISTRY, MAM_TMUX_SERVER, MAM_TMUX_BIN, MAM_LOG_LEVEL, MAM_LOG_FILE, CLAUDE_CONFIG_DIR, CODEX_HOME,',
    'NO_COLOR',
  ].join('\n');
}

/**
 * `--help` (or `-h`) among the command's own words — not after `--`, where words are an agent's arguments or a name
 * — asks for its page: the subcommand's own when the first word names one (`mam job submit --help`).
 */
function helpPage(command: Command, argv: readonly string[]): string | undefined {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  if (!own.includes('--help') && !own.includes('-h')) return undefined;
  const sub = own[0] === undefined ? undefined : command.subcommands?.[own[0]];
  return sub ?? command.help;
}

export async function main(context: CliContext): Promise<number> {
  const [name, ...rest] = context.argv;
  if (name === undefined) {
    writeLine(context.stderr, usage());
    return 64;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    writeLine(context.stdout, usage());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    writeLine(context.stdout, version());
    return 0;
  }
  // Started by the Hermes dispatcher as its HERMES_BIN: `mam -p <profile> … chat -q "work kanban task <id>"`.
  if (name === '-p' || name === '--profile') {
    const { hermesBinEntry } = await import('./monitor.js');
    const code = await hermesBinEntry(context);
    if (code !== undefined) return code;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    writeLine(context.stderr, `mam: unknown command ${JSON.stringify(name)}; run \`mam --help\` for the list`);
    return 64;
  }
  try {
    const command = await entry.load();
    const help = helpPage(command, rest);
    if (help !== undefined) {
      writeLine(context.stdout, help);
      return 0;
    }
    return await command.run(withArgv(context, rest));
  } catch (error) {
    writeLine(context.stderr, `mam: ${errorMessage(error)}`);
    if (!(error instanceof MamError) && context.env['MAM_DEBUG']) writeLine(context.stderr, String((error as Error).stack));
    return error instanceof MamError ? error.exitCode : 1;
  }
}

/** What `mam` does with this process's arguments: src/cli/main.ts runs it, from the bundle when there is one. */
export async function runMam(): Promise<void> {
  process.exitCode = await main(processContext(process.argv.slice(2)));
}
