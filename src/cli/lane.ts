import path from 'node:path';
import { laneProfiles, DEFAULT_LANE_PROFILES } from '../kanban/lane-launch.js';
import { laneCard, laneFor, lanePull, type LaneCommandFlags } from '../kanban/lane-run.js';
import { parseDuration } from '../kanban/settings.js';
import { UsageError } from '../util/errors.js';
import { parseFlags, type Command } from './command.js';

const HELP = `Usage: mam lane [--lane PROFILE]... [--poll S] [--ttl S] [--registry PATH] [--interval S] [--heartbeat S]
                [--approval-alert S]
       mam lane --card ID [--lane PROFILE] [--agent AGENT] [same options]

The Kanban lane for interactive agents: a Hermes Kanban card assigned to an agent lane profile (default
${DEFAULT_LANE_PROFILES}; $MAM_LANE_PROFILES, e.g. "claude-tmux,reviewer=codex") is worked by that agent running
interactively in tmux, and the card follows it:

  start        session <card>-<agent> in the card's workspace, registered with kanban_card: <card>; the card's
               title, body and comments are its first prompt, delivered as a delegated job (its header says how to
               report started / progress / completed / error); one comment says how to watch it live:
               mam attach <name>   or   tmux -L mam attach -t <name>
  while it works
               heartbeats carry its live status (working, waiting for input, needs approval for N min); its progress
               events become comments (at most one per progress_every, default 1 min); an approval wait longer than
               --approval-alert (default 10 min) is commented once with the tool and command, and one longer than
               approval_block (default 60 min) with nobody attached blocks the card needs_input
  comments     a person's comment is typed into the agent with a delivery receipt; one starting with / is a slash
               command; "stop" stops the agent gracefully (its conversation kept) and blocks the card
  end          the agent's completed event completes the card with its summary (then the agent is stopped;
               mam resume <name> brings it back); error blocks it with the reason; an agent that dies is resumed
               once into its conversation, then the card is blocked with its exit status and last screen
  goal cards   on a --goal card the completion goes to the judge in $MAM_LANE_JUDGE (stdin {"card","goal","response"},
               answer {"done": true|false, "reason": "..."}); a rejection is typed back into the agent with the reason
               and the card keeps running, until the goal turns are spent (then it is blocked needs_input)
  hand-over    before the run budget (--max-runtime, goal turns, claim TTL) runs out the card is handed over; the
               agent keeps running and the next run re-attaches to the same session. Unblocking a blocked or stopped
               card resumes the same conversation.

Everything owed to the card (comments, its end) is kept in <state dir>/lane-<card>.state first, so a restart of mam,
a broker restart or Hermes being down loses nothing and repeats nothing.

Ways in:
  dispatched   Hermes's dispatcher runs mam as its HERMES_BIN (MAM_HERMES_BIN = the real hermes): a card whose
               assignee is a lane profile (the profile must exist: hermes profile create claude-tmux) is worked here
  mam lane     pull mode: claim ready cards assigned to the --lane profiles (default: all of $MAM_LANE_PROFILES; give
               them no Hermes profile, so the dispatcher leaves them to you) with --ttl, and work them side by side
  --card ID    claim that one card and work it until it ends

A card's body (or a comment) may set interval: 10s, heartbeat: 5m, approval_alert: 10m, approval_block: 1h,
progress_every: 1m. Flags win.

Options:
  --lane PROFILE       a lane profile (repeatable); its agent is the name before -tmux unless --agent says
  --agent AGENT        the agent for --card/--lane (claude, codex, gemini, agy, or a command name)
  --card ID            work one card
  --registry PATH      the session registry (default: $MAM_REGISTRY, the nearest .hermes/agent-sessions.yaml)
  --interval S         how often the card is read for comments (default 10)
  --heartbeat S        seconds between heartbeats (default 300)
  --approval-alert S   comment once when the agent has waited on an approval this long (default 600)
  --ttl S              claim TTL (default 86400); the run hands over before it expires
  --poll S             pull mode: seconds between looks for ready cards (default 30)
  -h, --help           this text

Exit codes: 0 the card ended or was handed over (or, pull mode, stopped by SIGINT/SIGTERM); 1 the card could not
be claimed or the run failed; 64 usage error. See docs/lane.md.`;

export const laneCommand: Command = {
  help: HELP,
  async run(context) {
    const { values } = parseFlags(
      'lane',
      context.argv,
      {
        lane: { type: 'string', multiple: true },
        agent: { type: 'string' },
        card: { type: 'string' },
        registry: { type: 'string' },
        interval: { type: 'string' },
        heartbeat: { type: 'string' },
        'approval-alert': { type: 'string' },
        ttl: { type: 'string' },
        poll: { type: 'string' },
      },
    );
    const flags: LaneCommandFlags = {
      registry: values.registry === undefined ? undefined : path.resolve(context.cwd, values.registry),
      intervalMs: seconds(values.interval, 'interval'),
      heartbeatMs: seconds(values.heartbeat, 'heartbeat'),
      approvalAlertMs: seconds(values['approval-alert'], 'approval-alert'),
      ttlS: (seconds(values.ttl, 'ttl') ?? 86_400_000) / 1000,
    };
    const named = values.lane ?? [];
    if (values.card !== undefined) {
      if (values.card === '') throw new UsageError('lane: --card needs a card id');
      if (named.length > 1) throw new UsageError('lane: --card takes at most one --lane');
      const profile = named[0] ?? (values.agent ? `${values.agent}-tmux` : undefined);
      if (!profile) throw new UsageError('lane: --card needs --lane PROFILE or --agent AGENT (which agent works the card?)');
      return laneCard(context, flags, values.card, laneFor(profile, values.agent, context.env));
    }
    if (values.agent !== undefined && named.length !== 1) throw new UsageError('lane: --agent goes with one --lane (or with --card)');
    const lanes = named.length > 0 ? named.map((profile) => laneFor(profile, values.agent, context.env)) : laneProfiles(context.env);
    if (lanes.length === 0) throw new UsageError('lane: no lane profiles: set MAM_LANE_PROFILES or pass --lane PROFILE');
    return lanePull(context, flags, lanes, (seconds(values.poll, 'poll') ?? 30_000));
  },
};

/** A positive duration flag in ms (a bare number is seconds), or undefined when not given. */
function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new UsageError(`lane: --${flag} takes a duration (30, 30s, 5m), not ${JSON.stringify(value)}`);
  return ms;
}
