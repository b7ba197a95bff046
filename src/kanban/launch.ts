/**
 * How the monitor was launched by Hermes, read from its argv and environment (docs/hermes-kanban.md, 'Launch' and
 * 'Goal mode'; docs/monitor.md, 'Launched by Hermes'). Pure: callers pass `process.argv`/`process.env`.
 */

/** Profiles (Kanban assignees) whose cards this worker runs when it is the dispatcher's HERMES_BIN. */
export const DEFAULT_MONITOR_PROFILE = 'mam-monitor';

export function monitorProfiles(env: NodeJS.ProcessEnv): string[] {
  const names = (env['MAM_MONITOR_PROFILES'] ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  return names.length > 0 ? names : [DEFAULT_MONITOR_PROFILE];
}

export interface DispatcherArgv {
  readonly profile: string;
  /** The task id of `chat -q "work kanban task <id>"`, when present. */
  readonly taskId: string | undefined;
  /** The card's `--skill`s, which the dispatcher passes on as `--skills S` (one flag per skill). */
  readonly skills: readonly string[];
}

/**
 * The skill that marks a card as the monitor's, whatever its assignee (the original dispatch command assigns it to
 * `default`: docs/monitor.md, 'The original dispatch command').
 */
export const MONITOR_SKILL = 'agent-sessions-monitor';

/**
 * Is this dispatched card the monitor's? Its skills say so (the original dispatch command's), or its assignee is one
 * of the monitor's profiles.
 */
export function isMonitorLaunch(launch: DispatcherArgv, env: NodeJS.ProcessEnv): boolean {
  return launch.skills.includes(MONITOR_SKILL) || monitorProfiles(env).includes(launch.profile);
}

/**
 * The dispatcher spawns `<HERMES_BIN> -p <profile> [--accept-hooks] [--skills S]… [-m M] … chat -q
 * "work kanban task <id>"`; later versions add `--cli`, `-Q`, `--provider`, `--reasoning`. Only the
 * profile and the task id matter here; everything else is ignored. Undefined when argv is not of
 * that shape (so `mam` can tell it apart from its own subcommands).
 */
export function parseDispatcherArgv(argv: readonly string[]): DispatcherArgv | undefined {
  const profileAt = argv.findIndex((arg) => arg === '-p' || arg === '--profile');
  const profile = profileAt >= 0 ? argv[profileAt + 1] : undefined;
  if (!profile || !argv.includes('chat')) return undefined;
  const query = argv.slice(argv.indexOf('chat')).find((arg) => /work kanban task /.test(arg));
  const taskId = query ? /work kanban task (\S+)/.exec(query)?.[1] : undefined;
  const beforeChat = argv.slice(0, argv.indexOf('chat'));
  const skills = beforeChat.flatMap((arg, at) => {
    if ((arg === '--skills' || arg === '-s') && beforeChat[at + 1] !== undefined) return beforeChat[at + 1]!.split(',');
    if (arg.startsWith('--skills=')) return arg.slice('--skills='.length).split(',');
    return [];
  });
  return { profile, taskId, skills: skills.map((skill) => skill.trim()).filter(Boolean) };
}

export interface RunLimits {
  /** `HERMES_KANBAN_GOAL_MODE=1`: a goal card, whose turn budget this worker keeps itself. */
  readonly goalMode: boolean;
  /** `HERMES_KANBAN_GOAL_MAX_TURNS`, default 20 as in Hermes; one turn is one heartbeat period. */
  readonly goalMaxTurns: number;
  /** `TERMINAL_TIMEOUT` seconds: what Hermes leaves of `--max-runtime` (max_runtime − 30 s). */
  readonly terminalTimeoutS: number | undefined;
}

export function runLimits(env: NodeJS.ProcessEnv): RunLimits {
  const turns = Number(env['HERMES_KANBAN_GOAL_MAX_TURNS']);
  const timeout = Number(env['TERMINAL_TIMEOUT']);
  return {
    goalMode: env['HERMES_KANBAN_GOAL_MODE'] === '1',
    goalMaxTurns: Number.isInteger(turns) && turns > 0 ? turns : 20,
    terminalTimeoutS: Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
  };
}

/** The moment this run must be over: the earlier of the goal turn budget and the max runtime. */
export function runDeadline(startedAt: number, limits: RunLimits, heartbeatMs: number): number | undefined {
  const candidates = [
    limits.goalMode ? startedAt + limits.goalMaxTurns * heartbeatMs : undefined,
    limits.terminalTimeoutS === undefined ? undefined : startedAt + limits.terminalTimeoutS * 1000,
  ].filter((value): value is number => value !== undefined);
  return candidates.length > 0 ? Math.min(...candidates) : undefined;
}

/** Exit code that asks Hermes to requeue the card without counting a failure (`rate_limited`). */
export const REQUEUE_EXIT_CODE = 75;

/** Hermes ≥ 0.21 classifies an unreaped worker's exit from this trailer on stderr. */
export function exitTrailer(code: number): string {
  return `\n[kanban-worker-exit] rc=${code}\n`;
}
