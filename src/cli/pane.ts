import { readFile } from 'node:fs/promises';
import { AGENT_KINDS, agentForPane, launcherFor } from '../agents/index.js';
import { DEFAULT_AGENT } from '../config.js';
import { PANE_TIMEOUTS } from '../deliver/policy.js';
import { MamError, UsageError } from '../util/errors.js';
import { lifecycleContext } from '../lifecycle/context.js';
import type { Spawned } from '../pane/spawn.js';
import { isoSeconds, TMUX_SERVER_PATTERN } from '../registry/schema.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { liveProgress, parseFlags, writeLine, type CliContext, type Command, type LiveProgress } from './command.js';

/** `mam pane spawn|send|kill|rebalance|register`: the tmux templates of docs/pane.md. Thin: the work is in pane/. */

const AGENTS = AGENT_KINDS.map((kind) => kind.id).join('|');
const OPTIONS = '[--tmux-server S] [--registry PATH] [--json]';
const PANE_READY_S = PANE_TIMEOUTS.ready / 1000;

/** Each subcommand's own page (`mam pane spawn --help`). */
const SUB_HELP: Readonly<Record<string, string>> = {
  spawn: `Usage: mam pane spawn --role R [--task TEXT] [--agent ${AGENTS}] [--no-prompt] [--master %N]
                      [--window %N|@N] [--split h|v] [--color C] [--cwd DIR] ${OPTIONS}
                      [-- agent args…]

Split a pane beside the master (or in --window), start the agent there (default ${DEFAULT_AGENT}) and wait for its
prompt: up to ${PANE_READY_S} s, 3 attempts (a pane that never shows a prompt is closed and spawned again; one whose
agent exits at once is not). Nothing is typed until the pane is seen running that agent at its prompt — not a
shell, not another program; otherwise the pane is closed and spawn exits 1 with what was there. Then /color and
/rename (each confirmed by the agent), allow-rename off, the pane title <role>-<pane>, the role prompt (spawner,
registry, rules, --task) as a confirmed delivery, and main-vertical with the master first. On a terminal a live
line on stderr shows each wait and how long it has taken.

  --role R        1–32 of A–Z a–z 0–9 _ -: the /rename name and the pane title
  --agent A       an agent mam knows (${AGENTS}); any other command only with --no-prompt, since the role
                  prompt is typed as input and a shell would run it
  --no-prompt     no role prompt: the agent waits at an empty prompt (a command gets nothing typed at all)
  --master %N     the coordinator pane (default: the pane mam runs in)
  --window %N|@N  split this pane, or this window's active pane, instead of the master
  --split h|v     beside (h, default) or below (v)
  --color C       red, blue, green, yellow, purple, orange, pink or cyan (default: by role)
  --cwd DIR       where the agent starts (default: the master pane's directory)

Prints the new pane id; --json prints {paneId, fields, readyMs, prompt} (prompt: the delivery receipt).`,
  send: `Usage: mam pane send --pane %N (--message TEXT | --message-file F) [--token T] [--no-verify] [--agent A]
                     ${OPTIONS}

Type a message into an agent's pane and confirm it: literal send (send-keys -l; long or multi-line text via a
bracketed paste buffer), Enter in its own call, then the receipt queued → sent → submitted, retried per the retry
table (3 attempts). A dead pane, or one recorded closed, gets nothing. --token T: the text that proves it arrived
(default: the start of the message). --no-verify: type and press Enter, confirm nothing.
Prints "submitted %N (attempt N, T ms)"; --json prints the receipt {ok, stage, attempts, token, detail, ms}.
Exit 1 with the stage reached and why when it cannot be confirmed.`,
  kill: `Usage: mam pane kill --pane %N [--force] [--master %N] ${OPTIONS}

Close an agent's pane as the templates do. Gone already: mark it closed, exit 0. Otherwise check its report-back,
task-done and session id in the registry (unless --force), send the agent's exit keys (/exit), wait for it to end,
kill-pane only if it is still there, mark it closed, and rebalance the window around --master.
Prints "closed %N (MODE)"; --json prints {paneId, mode, sessionId, rebalanced} (mode: exit-keys, kill-pane,
already-gone).`,
  rebalance: `Usage: mam pane rebalance [--master %N] ${OPTIONS}

Lay the window out main-vertical with the master pane as the main one, first and full height on the left (default
master: the pane mam runs in). --json prints {windowId, panes, attempts}.`,
  register: `Usage: mam pane register [--pane %N] [--role R] [--agent A] [--session-id ID] [--report-back] [--task-done]
                         [--ready-to-close] ${OPTIONS}

Run by an agent in its own pane (default --pane: $TMUX_PANE): records its session, window and conversation id, and
ticks the close-down boxes: --report-back (it reported to its spawner), --task-done, --ready-to-close (all done;
the coordinator may now kill the pane). --json prints the pane's row.`,
};

const HELP = `Usage: mam pane <spawn|send|kill|rebalance|register> [options]      (mam pane <sub> --help: that subcommand's page)

Agents in panes of one tmux window: a master (coordinator) pane on the left, role agents split beside it, each pane
recorded in the registry's tmux_panes: list (pane_id, role, spawner_pane, status
spawning|active|ready-to-close|closed, report_back, task_done, session_id). Every wait polls a condition (prompt
visible, text shown, input taken, process gone); none is a fixed sleep. Pane ids (%N) are per tmux server: inside
tmux the current server is used, else pass --tmux-server S. Common options: --tmux-server S, --registry PATH, --json.

  spawn --role R [--task TEXT] [--agent ${AGENTS}] [--no-prompt] …
      split, wait for the agent's prompt, check it is that agent, /color and /rename, title, role prompt, layout
  send --pane %N (--message TEXT | --message-file F) [--no-verify]
      type a message and confirm it: queued → sent → submitted (exit 1 with the stage when unconfirmed)
  kill --pane %N [--force]
      /exit, wait, kill-pane only if needed, mark closed, rebalance
  rebalance [--master %N]
      main-vertical with the master pane first
  register [--report-back] [--task-done] [--ready-to-close]
      run by an agent in its own pane: its session, conversation id and close-down boxes`;

const COMMON = {
  'tmux-server': { type: 'string' },
  registry: { type: 'string' },
  json: { type: 'boolean' },
} as const;

async function setup(context: CliContext, values: { 'tmux-server'?: string | undefined; registry?: string | undefined }, live?: LiveProgress) {
  const flag = values['tmux-server'];
  if (flag !== undefined && !TMUX_SERVER_PATTERN.test(flag)) throw new UsageError(`pane: --tmux-server ${JSON.stringify(flag)} is not a socket name (1–64 of A–Z a–z 0–9 _ -)`);
  const { paneServer } = await import('../tmux/panes.js');
  return {
    server: paneServer(flag, context.env),
    lifecycle: lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: live?.say ?? ((line) => writeLine(context.stderr, line)), progress: live?.progress }),
    callerPane: context.env['TMUX'] && flag === undefined ? context.env['TMUX_PANE'] || undefined : undefined,
  };
}

function splitArgs(argv: readonly string[]): { own: string[]; rest: string[] } {
  const index = argv.indexOf('--');
  return index < 0 ? { own: [...argv], rest: [] } : { own: argv.slice(0, index), rest: argv.slice(index + 1) };
}

const SUBCOMMANDS: Record<string, (context: CliContext, argv: readonly string[]) => Promise<number>> = {
  async spawn(context, argv) {
    const { own, rest } = splitArgs(argv);
    const { values } = parseFlags('pane spawn', own, {
      ...COMMON,
      role: { type: 'string' },
      task: { type: 'string' },
      agent: { type: 'string' },
      master: { type: 'string' },
      window: { type: 'string' },
      split: { type: 'string' },
      color: { type: 'string' },
      cwd: { type: 'string' },
      'no-prompt': { type: 'boolean' },
    });
    if (!values.role) throw new UsageError('pane spawn: --role is required; see `mam pane spawn --help`');
    if (values.split !== undefined && values.split !== 'h' && values.split !== 'v') throw new UsageError(`pane spawn: --split is h or v, not ${JSON.stringify(values.split)}`);
    const live = liveProgress(context);
    let spawned: Spawned;
    try {
      const { server, lifecycle, callerPane } = await setup(context, values, live);
      const { spawnPane } = await import('../pane/spawn.js');
      spawned = await spawnPane(lifecycle, {
        server,
        role: values.role,
        task: values.task,
        agent: values.agent ?? DEFAULT_AGENT,
        agentArgs: rest,
        master: values.master,
        window: values.window,
        split: values.split === 'v' ? 'v' : 'h',
        color: values.color,
        cwd: values.cwd,
        callerPane,
        prompt: !values['no-prompt'],
      });
    } finally {
      live.done();
    }
    writeLine(context.stdout, values.json ? JSON.stringify(spawned) : spawned.paneId);
    return 0;
  },

  async send(context, argv) {
    const { values } = parseFlags('pane send', argv, {
      ...COMMON,
      pane: { type: 'string' },
      message: { type: 'string' },
      'message-file': { type: 'string' },
      token: { type: 'string' },
      'no-verify': { type: 'boolean' },
      agent: { type: 'string' },
    });
    if (!values.pane) throw new UsageError('pane send: --pane %N is required');
    if ((values.message === undefined) === (values['message-file'] === undefined)) throw new UsageError('pane send: give exactly one of --message TEXT or --message-file FILE');
    const { PANE_ID_PATTERN, paneInfo } = await import('../tmux/panes.js');
    if (!PANE_ID_PATTERN.test(values.pane)) throw new UsageError(`pane send: --pane ${JSON.stringify(values.pane)} is not a pane id like %3`);
    const text = values.message ?? (await readFile(values['message-file']!, 'utf8'));
    const { server, lifecycle } = await setup(context, values);
    const { findPane, paneRecords, setPaneFields } = await import('../pane/record.js');
    const rows = paneRecords((await readRegistry(lifecycle.registryFile)).document);
    const row = findPane(rows, server.name, values.pane);
    const info = await paneInfo(server.run, values.pane, lifecycle.tmux);
    if (!info) {
      const { notOnServer } = await import('../pane/kill.js');
      throw new MamError(`${notOnServer(values.pane, server, rows)}; nothing was sent`);
    }
    if (info.dead) throw new MamError(`pane ${values.pane}: its agent has exited (the pane is dead); nothing was sent — spawn a new one, or mam pane kill --pane ${values.pane} to close it`);
    if (row?.status === 'closed') throw new MamError(`pane ${values.pane} is recorded closed; nothing was sent`);
    const agent = values.agent ?? row?.agent ?? agentForPane(info.command)?.id ?? info.command;
    const { deliverMessage } = await import('../deliver/deliver.js');
    const receipt = await deliverMessage({ server: server.run, target: values.pane, tmux: lifecycle.tmux }, { text, token: values.token, launcher: launcherFor(agent), verify: !values['no-verify'] });
    if (row) {
      await updateRegistry(lifecycle.registryFile, (registry) => ({
        changed: setPaneFields(registry.document, server.name, values.pane!, { last_delivery: `${receipt.stage} ${isoSeconds(Date.now())}: ${receipt.detail}` }),
        result: undefined,
      }), lifecycle.lock);
    }
    if (values.json) writeLine(context.stdout, JSON.stringify(receipt));
    else if (receipt.ok) writeLine(context.stdout, `${receipt.stage} ${values.pane} (attempt ${receipt.attempts}, ${receipt.ms} ms)`);
    if (!receipt.ok) throw new MamError(`pane send: delivery to ${values.pane} not confirmed — stage ${receipt.stage}: ${receipt.detail}`);
    return 0;
  },

  async kill(context, argv) {
    const { values } = parseFlags('pane kill', argv, { ...COMMON, pane: { type: 'string' }, force: { type: 'boolean' }, master: { type: 'string' } });
    if (!values.pane) throw new UsageError('pane kill: --pane %N is required');
    const live = liveProgress(context);
    const { server, lifecycle } = await setup(context, values, live);
    const { killAgentPane } = await import('../pane/kill.js');
    const killed = await killAgentPane(lifecycle, { server, paneId: values.pane, force: values.force ?? false, master: values.master }).finally(() => live.done());
    writeLine(context.stdout, values.json ? JSON.stringify(killed) : `closed ${killed.paneId} (${killed.mode})${killed.rebalanced ? ', layout rebalanced' : ''}`);
    return 0;
  },

  async rebalance(context, argv) {
    const { values } = parseFlags('pane rebalance', argv, { ...COMMON, master: { type: 'string' } });
    const { server, lifecycle, callerPane } = await setup(context, values);
    const master = values.master ?? callerPane;
    if (!master) throw new UsageError('pane rebalance: not inside tmux: pass --master %N (and --tmux-server S)');
    const { PANE_ID_PATTERN } = await import('../tmux/panes.js');
    if (!PANE_ID_PATTERN.test(master)) throw new UsageError(`pane rebalance: --master ${JSON.stringify(master)} is not a pane id like %0`);
    const { rebalance } = await import('../pane/layout.js');
    const result = await rebalance(server.run, master, lifecycle.tmux);
    writeLine(context.stdout, values.json ? JSON.stringify(result) : `rebalanced ${result.windowId}: ${result.panes} panes, master ${master} on the left`);
    return 0;
  },

  async register(context, argv) {
    const { values } = parseFlags('pane register', argv, {
      ...COMMON,
      pane: { type: 'string' },
      role: { type: 'string' },
      agent: { type: 'string' },
      'session-id': { type: 'string' },
      'report-back': { type: 'boolean' },
      'task-done': { type: 'boolean' },
      'ready-to-close': { type: 'boolean' },
    });
    const { server, lifecycle, callerPane } = await setup(context, values);
    const { registerPane } = await import('../pane/register.js');
    const row = await registerPane(lifecycle, {
      server,
      paneId: values.pane ?? callerPane ?? (context.env['TMUX_PANE'] || undefined),
      role: values.role,
      agent: values.agent,
      sessionId: values['session-id'],
      reportBack: values['report-back'] ?? false,
      taskDone: values['task-done'] ?? false,
      readyToClose: values['ready-to-close'] ?? false,
    });
    writeLine(context.stdout, values.json ? JSON.stringify(row) : `registered ${row.pane_id} (${row.role ?? 'no role'}, ${row.status}${row.session_id ? `, session ${row.session_id}` : ''})`);
    return 0;
  },
};

export const paneCommand: Command = {
  help: HELP,
  subcommands: SUB_HELP,
  async run(context) {
    const [sub, ...rest] = context.argv;
    const handler = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!handler) throw new UsageError(`pane: ${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`} (spawn, send, kill, rebalance, register); see \`mam pane --help\``);
    return handler(context, rest);
  },
};
