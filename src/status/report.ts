import { existsSync } from 'node:fs';
import { agentKind } from '../agents/index.js';
import { registryCacheDir, statusDir } from '../config.js';
import { sessionStatus as agentsActivity } from '../facts/derive.js';
import type { AgentFact, AgentStatus } from '../facts/schema.js';
import { classifyPane, combineActivity, type ActivitySource } from '../watch/pane.js';
import { paneTarget, type PaneSampler, type PaneTarget } from '../watch/pane-sampler.js';
import { listStatusDir, readAgentFacts } from '../facts/store.js';
import { pendingApprovals, withPendingApprovals } from '../facts/pending-approval.js';
import { readRegistryEntries } from '../registry/read-cache.js';
import { timestampMs } from '../registry/time.js';
import { serversToObserve } from '../reconcile/observe.js';
import { sessionLive } from '../reconcile/reconcile.js';
import { capturePanes } from '../tmux/capture.js';
import { serverKey, snapshotServer } from '../tmux/client.js';
import type { LifecycleContext } from '../lifecycle/context.js';
import { clockTime, columnWidths, formatAge } from '../util/table.js';
import { paint, type Style } from './terminal.js';

/** One row per registered session: what the registry says beside what tmux shows right now. */
export interface StatusRow {
  readonly name: string;
  readonly agent: string;
  readonly status: string;
  readonly tmux_server: string | null;
  /** alive in tmux, gone, or unknown (the server could not be read). */
  readonly tmux: 'alive' | 'gone' | 'unknown';
  readonly conversation_id: string | null;
  readonly workspace: string;
  readonly since: string | null;
  readonly age_seconds: number | null;
  /** The delegated job this session runs, and its state from the job file (Workflow C). */
  readonly job: { readonly id: string; readonly status: string } | null;
  /** What the agent is doing now, from its hooks' fact files or its pane: working, needs_approval, waiting. */
  readonly activity: string | null;
  /** Where `activity` came from: the hooks' fact files, one capture of the pane, or nowhere (null). */
  readonly activity_source: ActivitySource;
  /** Work its turn left running (`working (background)`), one line each; empty when none (docs/status.md, 'Background work'). */
  readonly background: readonly string[];
  /** With activity `limited`: when the limit resets, where the agent said (docs/status.md, 'Usage limits'). */
  readonly limited_until: string | null;
}

export interface StatusReport {
  readonly registry: string;
  /** False when there is no registry file yet: nothing has been registered there. */
  readonly registry_exists: boolean;
  readonly sessions: readonly StatusRow[];
  readonly invalid: readonly { readonly name: string | undefined; readonly line: number | undefined; readonly reason: string }[];
}

/**
 * `panes`: a sampler kept across calls (`status --watch`), so pane readings are debounced and rate-limited as in
 * the monitor; without one, each pane is captured once.
 */
export async function sessionStatus(context: LifecycleContext, panes?: PaneSampler): Promise<StatusReport> {
  const registry = await readRegistryEntries(context.registryFile, registryCacheDir(context.env));
  const snapshots = new Map((await Promise.all(serversToObserve(registry, []).map((server) => snapshotServer(server, context.tmux)))).map((snapshot) => [serverKey(snapshot.server), snapshot]));
  const now = context.now();
  const jobStates = new Map<string, string>();
  const withJobs = registry.entries.flatMap((entry) => (entry.delegate_job_id && entry.delegate_job_registry ? [{ name: entry.name, id: entry.delegate_job_id, dir: entry.delegate_job_registry }] : []));
  if (withJobs.length > 0) {
    // The job store validates job files with zod: loaded only when some session has a job (bench/oneshot.bench.ts).
    const { readJob } = await import('../jobs/store.js');
    await Promise.all(
      withJobs.map(async ({ name, id, dir }) => {
        const job = await readJob(dir, id).catch(() => undefined);
        jobStates.set(name, job?.status ?? 'unknown');
      }),
    );
  }
  const activities = new Map<string, AgentStatus>();
  const mains = new Map<string, AgentFact>();
  const factsDir = statusDir(context.env);
  const factNames = await listStatusDir(factsDir);
  // Approvals the fast hook spooled that the watcher has not recorded yet (src/facts/pending-approval.ts).
  const approvals = pendingApprovals(factsDir);
  await Promise.all(
    registry.entries.map(async (entry) => {
      const kind = agentKind(entry.agent);
      const id = kind ? entry[kind.conversationIdField] : undefined;
      if (entry.status !== 'running' || !id) return;
      const agents = withPendingApprovals(await readAgentFacts(factsDir, id, factNames), approvals.get(id));
      const activity = agentsActivity(agents);
      if (activity) activities.set(entry.name, activity);
      if (agents['main']) mains.set(entry.name, agents['main']);
    }),
  );
  const tmuxState = (entry: (typeof registry.entries)[number]): StatusRow['tmux'] => {
    const snapshot = snapshots.get(serverKey(entry.tmux_server ?? null));
    return !snapshot || snapshot.state === 'unknown' ? 'unknown' : sessionLive(snapshot.panes, entry.name) ? 'alive' : 'gone';
  };
  const live = registry.entries.filter((entry) => entry.status === 'running' && tmuxState(entry) === 'alive');
  const targets = live.flatMap((entry) => paneTarget(entry, activities.get(entry.name)) ?? []);
  const paneStates = panes ? await sampledActivities(targets, panes) : await paneActivities(targets, context);
  const sessions = registry.entries.map((entry): StatusRow => {
    const tmux = tmuxState(entry);
    const kind = agentKind(entry.agent);
    const activity = combineActivity(activities.get(entry.name), paneStates.get(entry.name));
    const since =
      entry.status === 'running'
        ? (entry.resumed_at ?? entry.created_at)
        : entry.status === 'starting'
          ? (entry.starting_at ?? entry.created_at)
          : entry.status === 'stopped'
            ? entry.stopped_at
            : entry.terminated_at;
    const sinceMs = timestampMs(since ?? null);
    return {
      name: entry.name,
      agent: entry.agent,
      status: entry.status,
      tmux_server: entry.tmux_server ?? null,
      tmux,
      conversation_id: kind ? (entry[kind.conversationIdField] ?? entry.agent_identities?.[kind.id]?.session_id ?? null) : null,
      workspace: entry.workspace,
      since: sinceMs === undefined ? null : new Date(sinceMs).toISOString(),
      age_seconds: sinceMs === undefined ? null : Math.max(0, Math.round((now - sinceMs) / 1000)),
      job: entry.delegate_job_id ? { id: entry.delegate_job_id, status: jobStates.get(entry.name) ?? 'unknown' } : null,
      activity: activity.activity,
      activity_source: activity.source,
      background: activity.source === 'hooks' && activity.activity === 'working' ? (mains.get(entry.name)?.background ?? []) : [],
      limited_until: activity.source === 'hooks' && activity.activity === 'limited' ? (mains.get(entry.name)?.limit?.until ?? null) : null,
    };
  });
  return { registry: context.registryFile, registry_exists: existsSync(context.registryFile), sessions, invalid: registry.invalid.map(({ name, line, reason }) => ({ name, line, reason })) };
}

/**
 * Activity read from the panes of live running sessions that no hook reports for (and of Codex sessions,
 * whose approval dialogs fire no hook): one capture each, one tmux call per server. One capture cannot show
 * a screen standing still, so there is no idle debounce here (src/watch/pane.ts has it for the monitor):
 * an idle-looking screen is waiting at once, and an agent with no patterns (agy) stays unknown.
 */
async function paneActivities(targets: readonly PaneTarget[], context: LifecycleContext): Promise<Map<string, AgentStatus>> {
  const byServer = new Map<string, PaneTarget[]>();
  for (const target of targets) byServer.set(serverKey(target.server), [...(byServer.get(serverKey(target.server)) ?? []), target]);
  const found = new Map<string, AgentStatus>();
  await Promise.all(
    [...byServer.values()].map(async (group) => {
      const screens = await capturePanes(group[0]!.server, group.map((target) => target.session), context.tmux);
      for (const { session, patterns } of group) {
        // A session that vanished since the listing has no screen: no activity, not an error.
        const screen = screens.get(session);
        const status = screen === undefined ? undefined : classifyPane(patterns, screen);
        if (status) found.set(session, status);
      }
    }),
  );
  return found;
}

/** The same targets through a long-lived sampler: captures only when due, idle reported once the screen held still. */
async function sampledActivities(targets: readonly PaneTarget[], sampler: PaneSampler): Promise<Map<string, AgentStatus>> {
  const found = new Map<string, AgentStatus>();
  for (const [name, reading] of await sampler.sample(targets)) if (reading.status) found.set(name, reading.status);
  return found;
}


/**
 * Needs-you-first: sessions waiting for a person's approval lead, the rest keep the registry's order (a stable
 * sort, so a large registry's order is otherwise untouched).
 */
export function needsYouFirst(rows: readonly StatusRow[]): StatusRow[] {
  return [...rows].sort((a, b) => Number(b.activity === 'needs_approval') - Number(a.activity === 'needs_approval'));
}

/** The ACTIVITY cell: `NEEDS APPROVAL`, `working (background)`, `limited until 15:05`, or the activity as it is. */
export function activityCell(row: Pick<StatusRow, 'activity' | 'background' | 'limited_until'>): string {
  if (row.activity === 'needs_approval') return 'NEEDS APPROVAL';
  if (row.activity === 'working' && row.background.length > 0) return 'working (background)';
  if (row.activity === 'limited' && row.limited_until) return `limited until ${clockTime(row.limited_until)}`;
  return row.activity ?? '-';
}

/**
 * The human table. `color` (only on a terminal and without NO_COLOR: terminal.ts colorWanted): NEEDS APPROVAL red
 * and bold with its session's name bold, working yellow, waiting green, a running session gone from tmux red.
 * Widths are measured before colouring, so the columns line up either way.
 */
export function statusTable(report: StatusReport, options: { readonly color?: boolean } = {}): string {
  const color = options.color ?? false;
  const header = ['NAME', 'AGENT', 'STATUS', 'TMUX', 'ACTIVITY', 'CONVERSATION', 'AGE', 'WORKSPACE'];
  const sessions = needsYouFirst(report.sessions);
  const rows = sessions.map((row) => [
    row.name,
    row.agent,
    // Session and job state in one column (docs/lifecycle.md, 'status').
    row.job ? `${row.status}/job ${row.job.status}` : row.status,
    row.tmux === 'alive' ? 'alive' : row.tmux === 'gone' ? (row.status === 'running' ? 'GONE' : 'gone') : '?',
    activityCell(row),
    row.conversation_id ? row.conversation_id.slice(0, 8) : '-',
    formatAge(row.age_seconds),
    row.workspace,
  ]);
  const widths = columnWidths(header, rows);
  const line = (cells: readonly string[], styles: readonly (readonly Style[])[] = []): string =>
    cells.map((cell, column) => `${paint(cell, styles[column] ?? [], color)}${column === cells.length - 1 ? '' : ' '.repeat(widths[column]! - cell.length)}`).join('  ');
  if (!report.registry_exists) return `no registry at ${report.registry} yet: nothing is registered`;
  const styles = (row: StatusRow): (readonly Style[])[] => [
    row.activity === 'needs_approval' ? ['bold'] : [],
    [],
    [],
    row.tmux === 'gone' && row.status === 'running' ? ['red'] : [],
    row.activity === 'needs_approval' ? ['red', 'bold'] : row.activity === 'limited' ? ['magenta'] : row.activity === 'working' ? ['yellow'] : row.activity === 'waiting' ? ['green'] : [],
  ];
  const lines = [`registry: ${report.registry}`, line(header, header.map(() => ['bold'])), ...rows.map((cells, index) => line(cells, styles(sessions[index]!)))];
  if (rows.length === 0) lines.push(`(no sessions in ${report.registry})`);
  for (const bad of report.invalid) lines.push(`invalid entry${bad.name ? ` ${JSON.stringify(bad.name)}` : ''} at line ${bad.line ?? '?'}: ${bad.reason}`);
  return lines.join('\n');
}
