import { parseDuration, parseRetention } from '../kanban/settings.js';
import { DEFAULT_MONITOR_PROFILE } from '../kanban/launch.js';
import { hermesBinLaunch, monitorCard, monitorLane, monitorLocal, monitorOwnRun, type MonitorFlags } from '../kanban/monitor.js';
import { UsageError } from '../util/errors.js';
import path from 'node:path';
import { parseFlags, type CliContext, type Command } from './command.js';

const HELP = `Usage: mam monitor [--card ID] [--registry PATH] [--tmux-server NAME]... [--interval S] [--heartbeat S]
       mam monitor lane --lane NAME [--ttl S] [--poll S] [--registry PATH]
       mam monitor dispatch [--run] [--assignee PROFILE] [--registry PATH] [--goal-max-turns N] [--max-runtime D]

Run the agent-sessions monitor: a reconcile pass every --interval (default 30 s), drifts coalesced through
${'${XDG_CACHE_HOME:-~/.cache}'}/agent-sessions-monitor/<workspace>.state and told once (again only when they change
or clear, at most one comment per pass), a heartbeat at start and every --heartbeat (default 5 min), and a stop
when a person comments "stop" / "stop monitoring".

Boards:
  (no card)     the local board: comments and heartbeats on this terminal and in <state dir>/<workspace>.local.jsonl;
                type "stop" (or press Ctrl-C) to stop
  --card ID     a Hermes Kanban card, driven through \`hermes kanban\` ($MAM_HERMES_BIN, default hermes); a ready card
                is claimed first (with --ttl)
  dispatched    started by the Hermes dispatcher as its HERMES_BIN (\`mam -p <profile> … chat -q "work kanban task ID"\`):
                cards with the skill agent-sessions-monitor (whatever their assignee, e.g. \`default\`) or
                assigned to one of $MAM_MONITOR_PROFILES (default ${DEFAULT_MONITOR_PROFILE}) are run here; every other card is
                handed on unchanged to the real hermes. An LLM worker that loaded the skill runs
                \`mam monitor --card "$HERMES_KANBAN_TASK"\`, which works the same way.
  lane          pull mode: claim ready cards assigned to --lane (a name without a Hermes profile) with a long --ttl

Besides every --interval, a pass also runs soon after tmux reports a session created or destroyed, or a delegated
job reports an event (at most one such early pass a second): one \`tmux -C\` control client per watched server, attached to a session of its own,
__monitor, which goes away with it. A server that is not running is never started; one that refuses control mode or
ends its clients at once is warned about once and left to the interval. MAM_MONITOR_PUSH=0 turns this off.

Once a day (the time is kept in the state file, across hand-overs) ended sessions older than --retention are moved
into <registry>.history.jsonl as \`mam prune\` does, and a comment says how many.

A card's body may set \`interval: 30s\`, \`heartbeat: 5m\`, \`retention: 7d\`, \`registry: /abs/path/agent-sessions.yaml\`, and so may a comment
by anyone but the worker (newest wins; Hermes cannot edit a body from its CLI). Read as data, never executed;
{{placeholders}} count as unset. Flags win over both.

A dispatched run ends before its goal turn budget or --max-runtime does and hands over: the card is parked in
\`scheduled\` and put back to ready at once, so the dispatcher's next tick starts the next run (no rate-limit
cooldown, no failure counted). Whenever a run leaves the card blocked or parked, a comment says why and names the
command that continues it.

Subcommands (mam monitor <sub> --help: that subcommand's page):
  dispatch      print (or with --run, run) the \`hermes kanban create --goal …\` command that starts a monitor card
  lane          claim ready cards assigned to a lane and monitor them (pull mode)

Options:
  --card ID            a Hermes card to report to (default: $HERMES_KANBAN_TASK when dispatched, else the local board)
  --registry PATH      the registry (default: the card's registry:, $MAM_REGISTRY, the nearest .hermes/agent-sessions.yaml
                       up from here, ~/.hermes/agent-sessions.yaml; a card uses the last two only if the file exists)
  --tmux-server NAME   extra tmux socket to watch; repeatable
  --interval S         seconds between passes (default 30)
  --heartbeat S        seconds between heartbeats (default 300)
  --approval-alert S   comment once when an agent has waited on an approval this long (default 600; card: approval_alert:)
  --retention D        prune ended sessions older than D once a day (default 7d; 0 = never; card: retention:)
  --ttl S              claim TTL for --card/lane (default 86400); the run hands over before it expires
  --verbose            also report sessions other registries own (@mam_registry; problem kind owned-elsewhere)
  -h, --help           this text`;

/** Each subcommand's own page (`mam monitor dispatch --help`). */
const SUB_HELP: Readonly<Record<string, string>> = {
  lane: `Usage: mam monitor lane --lane NAME [--ttl S] [--poll S] [--registry PATH] [--tmux-server NAME]... [--interval S]
                         [--heartbeat S] [--approval-alert S] [--retention D] [--verbose]

Pull mode: claim ready Hermes Kanban cards assigned to --lane (a name without a Hermes profile, so the dispatcher
never starts them) with a long --ttl (default 86400 s), and monitor each as \`mam monitor --card ID\` would; look for
the next one every --poll seconds (default 30). The other options are the monitor's (\`mam monitor --help\`).`,
  dispatch: `Usage: mam monitor dispatch [--run] [--json] [--assignee PROFILE] [--title T] [--registry PATH] [--interval S]
                             [--heartbeat S] [--goal-max-turns N] [--max-runtime D] [--max-retries N]

Print the \`hermes kanban create --goal …\` command that starts a monitor card (assignee default, skill
agent-sessions-monitor, the card body naming the registry, interval and heartbeat), so you see exactly what would
run; --run runs it and prints the new card's id. Defaults: --goal-max-turns 100, --max-runtime 8h,
--max-retries 1, --interval 30s, --heartbeat 5m. $MAM_HERMES_BIN names the hermes command (default hermes).
--json prints {argv: [the command's words]}, or with --run {id, status, assignee}.`,
};

export const monitorCommand: Command = {
  help: HELP,
  subcommands: SUB_HELP,
  async run(context) {
    const [sub] = context.argv;
    if (sub === 'dispatch') return (await import('./monitor-dispatch.js')).dispatch({ ...context, argv: context.argv.slice(1) });
    if (sub === 'lane') return lane({ ...context, argv: context.argv.slice(1) });
    return monitor(context);
  },
};

const COMMON_FLAGS = {
  registry: { type: 'string' },
  'approval-alert': { type: 'string' },
  'tmux-server': { type: 'string', multiple: true },
  interval: { type: 'string' },
  heartbeat: { type: 'string' },
  retention: { type: 'string' },
  ttl: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

type CommonValues = {
  registry?: string | undefined;
  'approval-alert'?: string | undefined;
  'tmux-server'?: string[] | undefined;
  interval?: string | undefined;
  heartbeat?: string | undefined;
  retention?: string | undefined;
  ttl?: string | undefined;
  verbose?: boolean | undefined;
};

async function monitor(context: CliContext): Promise<number> {
  const { values } = parseFlags('monitor', context.argv, { ...COMMON_FLAGS, card: { type: 'string' } });
  if (values.card === '') throw new UsageError('monitor: --card needs a card id (was $HERMES_KANBAN_TASK empty? it is set only inside a dispatched card\'s run)');
  const flags = monitorFlags(values, context);
  const cardId = values.card ?? context.env['HERMES_KANBAN_TASK'];
  if (!cardId) return monitorLocal(context, flags);
  const self = context.env['HERMES_PROFILE'] || DEFAULT_MONITOR_PROFILE;
  if (values.card === undefined || values.card === context.env['HERMES_KANBAN_TASK']) return monitorOwnRun(context, flags, cardId, self);
  return monitorCard(context, flags, cardId, self);
}

async function lane(context: CliContext): Promise<number> {
  const { values } = parseFlags('monitor lane', context.argv, { ...COMMON_FLAGS, lane: { type: 'string' }, poll: { type: 'string' } });
  if (!values.lane) throw new UsageError('monitor lane: --lane NAME is required (the assignee of the cards to claim)');
  return monitorLane(context, monitorFlags(values, context), values.lane, positive(values.poll, 30, 'poll') * 1000);
}

/** The dispatcher's HERMES_BIN entry: `mam -p <profile> … chat -q "work kanban task <id>"`; undefined when it is not one. */
export function hermesBinEntry(context: CliContext): Promise<number | undefined> {
  return hermesBinLaunch(context, context.argv);
}

function monitorFlags(values: CommonValues, context: CliContext): MonitorFlags {
  return {
    registry: values.registry === undefined ? undefined : path.resolve(context.cwd, values.registry),
    intervalMs: values.interval === undefined ? undefined : positive(values.interval, 30, 'interval') * 1000,
    heartbeatMs: values.heartbeat === undefined ? undefined : positive(values.heartbeat, 300, 'heartbeat') * 1000,
    approvalAlertMs: values['approval-alert'] === undefined ? undefined : positive(values['approval-alert'], 600, 'approval-alert') * 1000,
    retentionMs: values.retention === undefined ? undefined : retention(values.retention),
    ttlS: positive(values.ttl, 86_400, 'ttl'),
    tmuxServers: values['tmux-server'],
    verbose: values.verbose ?? false,
  };
}

function retention(value: string): number {
  const ms = parseRetention(value);
  if (ms === undefined) throw new UsageError(`monitor: --retention takes a duration (7d, 12h) or 0 for never, not ${JSON.stringify(value)}`);
  return ms;
}

function positive(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new UsageError(`monitor: --${flag} takes a duration (30, 30s, 5m), not ${JSON.stringify(value)}`);
  return ms / 1000;
}
