import { AGENT_KINDS, agentForPane, agentKind } from '../agents/index.js';
import type { Conversation } from '../agents/types.js';
import type { EntryFields } from '../registry/document.js';
import type { HostBoot } from '../proc/boot.js';
import { AGENT_NAME_PATTERN, SESSION_NAME_PATTERN } from '../registry/patterns.js';
import type { RegistryEntry, ServerLoss } from '../registry/schema.js';
import { isoSeconds, STARTING_STALE_MS, timestampMs } from '../registry/time.js';
import { serverKey, type ServerSnapshot, type TmuxPane, type TmuxServer } from '../tmux/client.js';
import { runFields, serverLoss } from './server-loss.js';
import type { Claim, Close, Drift, Observation, Problem, ReconcileResult, RegistryPatch } from './types.js';

/**
 * The reconcile core: a pure function of the registry, one observation of reality and the clock.
 * Running it again on its own output and the same reality yields no drift that changes anything
 * (D drifts are reports and repeat; coalescing them is the monitor's job).
 */
export interface ReconcileInput {
  readonly entries: readonly RegistryEntry[];
  /** Every name the registry file mentions, valid or not. */
  readonly names: ReadonlySet<string>;
  /** The registry's absolute path: what this registry's sessions carry as `@mam_registry`. */
  readonly file?: string;
}

export interface ReconcileOptions {
  /** A user's create/stop/resume this recent wins over what the pass saw (docs/reconcile.md: 5 s). */
  readonly graceMs?: number;
  /** How long an entry may stay `starting` while its creator looks alive (default STARTING_STALE_MS, 2 min). */
  readonly startingStaleMs?: number;
  /** Also report sessions other registries own (problems of kind `owned-elsewhere`): `--verbose`. */
  readonly verbose?: boolean;
}

export const DEFAULT_GRACE_MS = 5_000;

/** `<workspace>-creator-<agent>`: the naming that makes an unregistered tmux session ours (class B). */
const CREATOR_SESSION = /^(.+)-creator-([A-Za-z0-9_]+)$/;

/** A conversation counts for an entry when it was active after the entry existed, give or take the
 *  registry's one-second timestamp precision. */
const CREATION_SLACK_MS = 2_000;

export function reconcile(
  registry: ReconcileInput,
  observation: Observation,
  now: number,
  options: ReconcileOptions = {},
): ReconcileResult {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const drifts: Drift[] = [];
  const problems: Problem[] = [...observation.problems];
  const updates = new Map<string, EntryFields>();
  const unsets = new Map<string, Set<keyof RegistryEntry & string>>();
  const additions: RegistryEntry[] = [];
  const claims: Claim[] = [];
  const closes: Close[] = [];
  const update = (session: string, fields: EntryFields, unset: readonly (keyof RegistryEntry & string)[] = []): void => {
    updates.set(session, { ...updates.get(session), ...fields });
    if (unset.length > 0) unsets.set(session, new Set([...(unsets.get(session) ?? []), ...unset]));
  };
  // Whose a marked session is: this registry's, an orphan's (its registry file is gone: free to adopt), or another
  // live registry's (never touched).
  const ownership = (owner: string | null): 'unmarked' | 'ours' | 'orphan' | 'elsewhere' => {
    if (owner === null) return 'unmarked';
    if (owner === registry.file) return 'ours';
    return observation.owners?.get(owner) === false ? 'orphan' : 'elsewhere';
  };

  const snapshots = new Map<string, ServerSnapshot>();
  for (const snapshot of observation.servers) {
    snapshots.set(serverKey(snapshot.server), snapshot);
    if (snapshot.state === 'unknown') {
      problems.push({
        kind: 'tmux-unavailable',
        tmux_server: snapshot.server,
        message: `tmux server ${snapshot.server ?? 'default'} could not be read (${snapshot.error}); its sessions were not judged this pass`,
      });
    }
  }

  // A dead session mam started (its agent exited, tmux kept the pane) says why (issue 13.4): the fields and drift
  // details that record it, and the close of the session once they are written.
  const exitOf = (snapshot: ServerSnapshot, name: string, panes: readonly TmuxPane[]) => {
    const exit = observation.exits?.get(exitKey(snapshot.server, name));
    const status = exit ? exit.status : (panes.find((pane) => pane.deadStatus != null)?.deadStatus ?? null);
    const screen = exit?.screen ?? null;
    if (ownership(panes.find((pane) => pane.owner !== null)?.owner ?? null) === 'ours') {
      for (const pane of panes) closes.push({ session: name, tmux_server: snapshot.server, pane_id: pane.paneId });
    }
    return {
      said: status === null ? 'agent exited (exit status unknown)' : `agent exited with status ${status}`,
      fields: { exit_status: status, ...(screen === null ? {} : { last_visible_status: lastLines(screen, SCREEN_LINES) }) },
      // tmux's own "Pane is dead (status N, <date>)" line says nothing the message does not.
      drift: { exit_status: status, last_lines: screen === null ? [] : lastLines(screen.replace(/^Pane is dead \(.*\)$/gm, ''), DRIFT_LINES).split('\n').filter(Boolean) },
    };
  };

  // A — registered as running, gone from tmux (or, for a session mam started, its agent exited).
  for (const entry of registry.entries) {
    if (entry.status !== 'running') continue;
    const snapshot = snapshots.get(serverKey(entry.tmux_server ?? null));
    if (!snapshot || snapshot.state === 'unknown') continue;
    const panes = snapshot.panes.filter((pane) => pane.session === entry.name);
    const exited = agentExited(panes);
    if (panes.length > 0 && !exited) continue;
    if (withinGrace(entry, now, graceMs)) continue;
    const pane = entry.pane ?? null;
    const was = pane?.pid != null || pane?.cmd != null ? ` (was pane ${pane?.pid ?? '?'}, cmd ${pane?.cmd ?? '?'})` : '';
    const exit = exited ? exitOf(snapshot, entry.name, panes) : undefined;
    // Gone with its tmux server (a reboot, a crash): recorded, so `mam restore` finds it after this pass.
    const lost = exit ? undefined : serverLoss(entry, snapshot, observation.boot ?? NO_BOOT);
    const serverNote = lossNote(snapshot, lost);
    drifts.push({
      class: 'A',
      session: entry.name,
      message: `${entry.name}: ${exit ? exit.said : 'tmux gone'}${was}${serverNote}. Marked terminated.`,
      tmux_server: entry.tmux_server ?? null,
      pane,
      ...exit?.drift,
      ...(lost ? { tmux_server_lost: lost } : {}),
    });
    update(entry.name, {
      status: 'terminated',
      terminated_at: isoSeconds(now),
      terminated_at_epoch: Math.floor(now / 1000),
      termination_mode: 'auto-detected',
      ...exit?.fields,
      ...(lost ? { tmux_server_lost: lost } : {}),
    });
  }
  // A dead session mam started that an earlier pass (or a stop) already recorded, and could not close: close it now.
  for (const entry of registry.entries) {
    if (entry.status !== 'terminated' && entry.status !== 'stopped') continue;
    const snapshot = snapshots.get(serverKey(entry.tmux_server ?? null));
    const panes = snapshot?.state === 'up' ? snapshot.panes.filter((pane) => pane.session === entry.name) : [];
    if (snapshot && agentExited(panes) && ownership(panes.find((pane) => pane.owner !== null)?.owner ?? null) === 'ours') {
      for (const pane of panes) closes.push({ session: entry.name, tmux_server: snapshot.server, pane_id: pane.paneId });
    }
  }

  // A stale `starting` entry: the create/resume that wrote it died, or has taken far too long. Its tmux session
  // decides: alive (and not another registry's) → running, reported as B; otherwise → terminated, reported as A.
  // Kept rather than removed: its start_command is known, so `mam resume` can start it, and `mam delete` drops it.
  const staleMs = options.startingStaleMs ?? STARTING_STALE_MS;
  for (const entry of registry.entries) {
    if (entry.status !== 'starting') continue;
    const why = staleStart(entry, observation, now, staleMs);
    if (why === undefined) continue;
    const snapshot = snapshots.get(serverKey(entry.tmux_server ?? null));
    if (!snapshot || snapshot.state === 'unknown') continue;
    const panes = snapshot.panes.filter((pane) => pane.session === entry.name);
    const owner = panes.find((pane) => pane.owner !== null)?.owner ?? null;
    const unset = ['starting_pid', 'starting_at'] as const;
    const exited = agentExited(panes);
    if (panes.length > 0 && !exited && ownership(owner) !== 'elsewhere') {
      const pane = agentPane(panes, entry.agent);
      const facts = { pid: pane.pid, cmd: pane.command, cwd: pane.cwd };
      drifts.push({
        class: 'B',
        session: entry.name,
        message: `${entry.name}: left starting (${why}), tmux alive. Marked running.`,
        tmux_server: snapshot.server,
        agent: entry.agent,
        workspace: entry.workspace,
        pane: facts,
      });
      update(entry.name, { status: 'running', pane: facts, ...runFields(observation.boot ?? NO_BOOT, snapshot.state === 'up' ? snapshot.process : undefined) }, unset);
      if (ownership(owner) !== 'ours') claims.push({ session: entry.name, tmux_server: snapshot.server, from: owner });
      continue;
    }
    const exit = exited && ownership(owner) !== 'elsewhere' ? exitOf(snapshot, entry.name, panes) : undefined;
    drifts.push({
      class: 'A',
      session: entry.name,
      message: `${entry.name}: left starting (${why}), ${exit ? exit.said : 'tmux session never came up or is gone'}. Marked terminated.`,
      tmux_server: entry.tmux_server ?? null,
      pane: entry.pane ?? null,
      ...exit?.drift,
    });
    update(entry.name, { status: 'terminated', terminated_at: isoSeconds(now), terminated_at_epoch: Math.floor(now / 1000), termination_mode: 'auto-detected', ...exit?.fields }, unset);
  }

  // B — a tmux session the registry does not know that is ours to register: an unmarked `<ws>-creator-<agent>`,
  // or one under any name that carries this registry's `@mam_registry` mark (mam started it) or the mark of a
  // registry whose file is gone (adopted). A session another live registry owns is never registered.
  const registeredNow = new Set<string>();
  for (const snapshot of observation.servers) {
    if (snapshot.state !== 'up') continue;
    for (const [session, panes] of groupBySession(snapshot.panes)) {
      if (registry.names.has(session)) continue;
      const owner = panes.find((pane) => pane.owner !== null)?.owner ?? null;
      const whose = ownership(owner);
      // A dead session mam started is no agent to register; one of ours that nobody records is only closed.
      if (agentExited(panes)) {
        if (whose === 'ours') for (const pane of panes) closes.push({ session, tmux_server: snapshot.server, pane_id: pane.paneId });
        continue;
      }
      if (whose === 'elsewhere') {
        if (options.verbose) {
          problems.push({
            kind: 'owned-elsewhere',
            session,
            tmux_server: snapshot.server,
            owner: owner!,
            message: `${session}: belongs to registry ${owner}; not registered here`,
          });
        }
        continue;
      }
      const match = CREATOR_SESSION.exec(session);
      if (!match && whose === 'unmarked') continue;
      if (!SESSION_NAME_PATTERN.test(session)) {
        problems.push({
          kind: 'unsafe-session-name',
          tmux_server: snapshot.server,
          message: `tmux session ${JSON.stringify(session)} looks like a creator session, but its name is not 1–128 of A–Z a–z 0–9 _ -; not registered`,
        });
        continue;
      }
      if (registeredNow.has(session)) {
        problems.push({
          kind: 'unsafe-session-name',
          session,
          tmux_server: snapshot.server,
          message: `${session}: also alive on tmux server ${snapshot.server ?? 'default'}; registered only the first one found`,
        });
        continue;
      }
      const agent = match ? match[2]! : agentOf(panes);
      if (agent === undefined) continue;
      const pane = agentPane(panes, agent);
      if (!pane.cwd.startsWith('/')) continue;
      registeredNow.add(session);
      const facts = { pid: pane.pid, cmd: pane.command, cwd: pane.cwd };
      const kind = agentKind(agent);
      const entry: RegistryEntry = {
        name: session,
        agent,
        workspace: pane.cwd,
        status: 'running',
        ...(snapshot.server === null ? {} : { tmux_server: snapshot.server }),
        pane: facts,
        start_command: null,
        mcp_attachments: [],
        ...(kind ? { [kind.conversationIdField]: null } : {}),
        delegate_job_id: null,
        last_visible_status: 'auto-registered',
        created_at: isoSeconds(now),
        ...runFields(observation.boot ?? NO_BOOT, snapshot.process),
      };
      additions.push(entry);
      if (whose !== 'ours') claims.push({ session, tmux_server: snapshot.server, from: owner });
      const how = whose === 'orphan' ? `Adopted from ${owner}, which no longer exists.` : 'Auto-registered.';
      drifts.push({
        class: 'B',
        session,
        message: `${session}: tmux found but not in YAML. ${how}`,
        tmux_server: snapshot.server,
        agent,
        workspace: pane.cwd,
        pane: facts,
      });
    }
  }

  // C — the conversation of an entry whose id is still unknown has appeared on disk.
  const claimed = new Set(registry.entries.flatMap((entry) => recordedIds(entry)));
  const unknownIdPeers = new Map<string, number>();
  // Only an agent alive in its pane can be producing the conversation that just appeared.
  const awaitingId = registry.entries.filter((entry) => {
    const kind = agentKind(entry.agent);
    return (
      entry.status === 'running' &&
      kind !== undefined &&
      entry[kind.conversationIdField] == null &&
      livePane(entry, snapshots) !== undefined
    );
  });
  for (const entry of awaitingId) {
    const peerKey = `${entry.agent}\0${entry.workspace}`;
    unknownIdPeers.set(peerKey, (unknownIdPeers.get(peerKey) ?? 0) + 1);
  }
  const panePids = new Map<number, string>();
  for (const entry of registry.entries) {
    const pane = livePane(entry, snapshots);
    if (pane) panePids.set(pane.pid, entry.name);
  }
  // The registry entry whose pane a live agent process runs in (the agent may be a child of a shell).
  const ownerOf = (conversation: Conversation): string | undefined => {
    if (conversation.livePid === undefined) return undefined;
    const lineage = observation.processAncestry.get(conversation.livePid) ?? [conversation.livePid];
    for (const pid of lineage) {
      const owner = panePids.get(pid);
      if (owner !== undefined) return owner;
    }
    return undefined;
  };
  for (const entry of awaitingId) {
    const kind = agentKind(entry.agent)!;
    const artifacts = observation.artifacts.get(entry.name);
    if (!artifacts || artifacts.candidates.length === 0) continue;
    const sharesWorkspace = (unknownIdPeers.get(`${entry.agent}\0${entry.workspace}`) ?? 0) > 1;
    const chosen = chooseConversation(entry, artifacts.candidates, claimed, ownerOf, sharesWorkspace);
    if (chosen === 'ambiguous') {
      problems.push({
        kind: 'ambiguous-conversation',
        session: entry.name,
        message: `${entry.name}: several ${entry.agent} sessions in ${entry.workspace} await a conversation id and none can be told apart yet; not recorded`,
      });
      continue;
    }
    if (!chosen) continue;
    claimed.add(chosen.id);
    update(entry.name, { [kind.conversationIdField]: chosen.id });
    drifts.push({
      class: 'C',
      session: entry.name,
      message: `${entry.name}: session id materialized ${chosen.id}`,
      field: kind.conversationIdField,
      conversation_id: chosen.id,
      path: chosen.path,
    });
  }

  // D — a recorded id whose artifact is gone. Reported only: the id stays (docs/reconcile.md, 'Drift classes').
  for (const entry of registry.entries) {
    const artifacts = observation.artifacts.get(entry.name);
    if (!artifacts || entry.termination_mode === 'purge') continue;
    const missing = new Map<string, string[]>();
    for (const recorded of artifacts.recorded) {
      if (recorded.path !== null) continue;
      missing.set(recorded.id, [...(missing.get(recorded.id) ?? []), recorded.field]);
    }
    for (const [id, fields] of missing) {
      const where = artifacts.rootExists ? `not found under ${artifacts.root}` : `${artifacts.root} does not exist`;
      drifts.push({
        class: 'D',
        session: entry.name,
        message: `${entry.name}: stale id ${id} (${fields.join(', ')}): ${where}. Kept in YAML.`,
        fields,
        conversation_id: id,
        artifact_root: artifacts.root,
      });
    }
  }

  const patch: RegistryPatch = {
    updates: [...updates].map(([session, set]) => {
      const unset = unsets.get(session);
      return unset ? { session, set, unset: [...unset] } : { session, set };
    }),
    additions,
  };
  return { drifts, patch, problems, claims, closes };
}

const NO_BOOT: HostBoot = { bootId: undefined, bootedAtMs: undefined };

/** Why the server took the session along, for the drift message. */
function lossNote(snapshot: ServerSnapshot, lost: ServerLoss | undefined): string {
  const label = snapshot.server ?? 'default';
  const restore = '; `mam restore` brings it back';
  const rebooted = lost === 'reboot' ? '; the host rebooted since it started' : '';
  if (snapshot.state === 'absent') return ` (tmux server ${label} is not running${rebooted}${lost ? restore : ''})`;
  if (lost === 'reboot') return ` (the host rebooted since it started${restore})`;
  return lost ? ` (tmux server ${label} was restarted${restore})` : '';
}

/** The key of `Observation.exits`. */
export function exitKey(server: TmuxServer, session: string): string {
  return `${serverKey(server)}\0${session}`;
}

/**
 * A session mam started whose every pane is dead: its agent exited and tmux kept the pane (remain-on-exit) for the
 * next pass to read. Such a session is gone as far as anyone is concerned: status, stop, resume, reconcile. A dead
 * pane in a session mam did not start (a user's own remain-on-exit) is left to its owner and judged as before.
 */
export function agentExited(panes: readonly TmuxPane[]): boolean {
  return panes.length > 0 && panes.every((pane) => pane.dead) && panes.some((pane) => pane.mamStarted === true);
}

/** Whether session `name` is alive among `panes` (one server's): it has panes, and is not a dead session mam started. */
export function sessionLive(panes: readonly TmuxPane[], name: string): boolean {
  const own = panes.filter((pane) => pane.session === name);
  return own.length > 0 && !agentExited(own);
}

/**
 * How much of a dead pane's screen is kept in `last_visible_status` (as `mam stop` keeps 40 lines), and how much a
 * drift shows. Only non-empty lines count: a dead pane's last words sit above a screenful of blank lines.
 */
const SCREEN_LINES = 40;
const DRIFT_LINES = 5;

export function lastLines(screen: string, count: number): string {
  return screen.split('\n').filter((line) => line.trim() !== '').slice(-count).join('\n');
}

/** Why a `starting` entry is stale, or undefined while its creator may still finish it. */
function staleStart(entry: RegistryEntry, observation: Observation, now: number, staleMs: number): string | undefined {
  const pid = entry.starting_pid;
  if (pid != null && observation.starters?.get(pid) === false) return `its creator, mam pid ${pid}, is gone`;
  const since = timestampMs(entry.starting_at ?? entry.created_at ?? null);
  if (since === undefined) return 'no start time recorded';
  if (now - since > staleMs) return `starting for more than ${Math.round(staleMs / 1000)} s`;
  return undefined;
}

/** The agent of a marked session whose name does not say it: a pane running a known agent, else the first pane's command. */
function agentOf(panes: readonly TmuxPane[]): string | undefined {
  const ordered = [...panes].sort((a, b) => a.windowIndex - b.windowIndex || a.paneIndex - b.paneIndex);
  for (const pane of ordered) {
    const kind = agentForPane(pane.command);
    if (kind) return kind.id;
  }
  const command = ordered[0]?.command;
  return command !== undefined && AGENT_NAME_PATTERN.test(command) ? command : undefined;
}

/** Every conversation id an entry records, in any of the places the registry keeps them. */
export function recordedIds(entry: RegistryEntry): string[] {
  const ids = new Set<string>();
  for (const kind of AGENT_KINDS) {
    const value = entry[kind.conversationIdField];
    if (value) ids.add(value);
  }
  for (const identity of Object.values(entry.agent_identities ?? {})) {
    if (identity?.session_id) ids.add(identity.session_id);
  }
  return [...ids];
}

function withinGrace(entry: RegistryEntry, now: number, graceMs: number): boolean {
  const actions = [entry.created_at, entry.resumed_at, entry.stopped_at].map(timestampMs).filter((ms) => ms !== undefined);
  return actions.some((ms) => now - ms < graceMs);
}

function groupBySession(panes: readonly TmuxPane[]): Map<string, TmuxPane[]> {
  const sessions = new Map<string, TmuxPane[]>();
  for (const pane of panes) sessions.set(pane.session, [...(sessions.get(pane.session) ?? []), pane]);
  return sessions;
}

/** The pane the agent runs in: one whose command is the agent, else the first pane of the session. */
function agentPane(panes: readonly TmuxPane[], agent: string): TmuxPane {
  const kind = agentKind(agent);
  const ordered = [...panes].sort((a, b) => a.windowIndex - b.windowIndex || a.paneIndex - b.paneIndex);
  const running = ordered.find((pane) => (kind ? kind.matchesPaneCommand(pane.command) : pane.command === agent));
  return running ?? ordered[0]!;
}

function livePane(entry: RegistryEntry, snapshots: ReadonlyMap<string, ServerSnapshot>): TmuxPane | undefined {
  const snapshot = snapshots.get(serverKey(entry.tmux_server ?? null));
  const panes = snapshot?.panes.filter((pane) => pane.session === entry.name) ?? [];
  return panes.length === 0 || agentExited(panes) ? undefined : agentPane(panes, entry.agent);
}

/**
 * Which on-disk conversation is this entry's. One whose live process runs in this entry's pane is
 * certain; one running in another entry's pane is that entry's; otherwise the newest unclaimed one
 * active since the entry was created — unless another entry in the same workspace is waiting too.
 */
function chooseConversation(
  entry: RegistryEntry,
  candidates: readonly Conversation[],
  claimed: ReadonlySet<string>,
  ownerOf: (conversation: Conversation) => string | undefined,
  sharesWorkspace: boolean,
): Conversation | 'ambiguous' | undefined {
  const open = candidates.filter((conversation) => !claimed.has(conversation.id));
  const bound = open.find((conversation) => ownerOf(conversation) === entry.name);
  if (bound) return bound;
  const createdMs = timestampMs(entry.created_at) ?? Number.NEGATIVE_INFINITY;
  const unbound = open.filter(
    (conversation) => ownerOf(conversation) === undefined && conversation.modifiedMs >= createdMs - CREATION_SLACK_MS,
  );
  if (unbound.length === 0) return undefined;
  if (sharesWorkspace) return 'ambiguous';
  return unbound.reduce((newest, conversation) => (conversation.modifiedMs > newest.modifiedMs ? conversation : newest));
}
