import { stat } from 'node:fs/promises';
import path from 'node:path';
import { agentKind } from '../agents/index.js';
import type { ArtifactQuery, Conversation } from '../agents/types.js';
import { errorMessage } from '../util/errors.js';
import { hostBoot } from '../proc/boot.js';
import { parentPid, signalable } from '../proc/tree.js';
import type { RegistryEntry } from '../registry/schema.js';
import { timestampMs } from '../registry/time.js';
import { serverKey, type ServerSnapshot, snapshotServer, type TmuxOptions, type TmuxServer } from '../tmux/client.js';
import { deadPane } from '../tmux/session.js';
import type { ReconcileInput } from './reconcile.js';
import { agentExited, exitKey } from './reconcile.js';
import type { AgentExit, EntryArtifacts, Observation, Problem, RecordedId } from './types.js';

/**
 * Reads reality for one pass: one `list-panes -a` per tmux server, in parallel, and the artifact facts
 * each registry entry needs. Read-only. Failures become Problems in the observation, never exceptions,
 * so one broken tmux server or artifact tree does not hide the rest.
 */
export interface ObserveOptions {
  /** Servers to look at besides those the entries name (`--tmux-server`, `MAM_TMUX_SERVER`). */
  readonly extraServers: readonly TmuxServer[];
  readonly tmux: TmuxOptions;
  readonly artifacts: ArtifactQuery;
  /** Reads a process's parent pid; Linux `/proc` by default. Returns undefined when unknown. */
  readonly parentPid?: (pid: number) => Promise<number | undefined>;
}

/** Conversations looked at for an entry start this long before it was created (clock and precision). */
const CANDIDATE_LOOKBACK_MS = 2_000;

export function serversToObserve(registry: Pick<ReconcileInput, 'entries'>, extra: readonly TmuxServer[]): TmuxServer[] {
  const servers = new Map<string, TmuxServer>();
  for (const entry of registry.entries) servers.set(serverKey(entry.tmux_server ?? null), entry.tmux_server ?? null);
  for (const server of extra) servers.set(serverKey(server), server);
  return [...servers.values()];
}

export async function observe(registry: ReconcileInput, options: ObserveOptions, now: () => number): Promise<Observation> {
  const at = now();
  options.artifacts.fs.newPass();
  const problems: Problem[] = [];
  const [servers, artifactEntries] = await Promise.all([
    Promise.all(serversToObserve(registry, options.extraServers).map((server) => snapshotServer(server, options.tmux))),
    Promise.all(
      // Only entries with something to look up: an id recorded, or one awaited. The rest (most of a large registry:
      // ended sessions) would each cost a promise and an empty answer.
      registry.entries.filter(needsArtifacts).map(async (entry) => {
        try {
          const facts = await entryArtifacts(entry, options.artifacts);
          return facts ? ([entry.name, facts] as const) : undefined;
        } catch (error) {
          problems.push({
            kind: 'artifacts-unreadable',
            session: entry.name,
            message: `${entry.name}: could not read ${entry.agent} artifacts: ${errorMessage(error)}`,
          });
          return undefined;
        }
      }),
    ),
  ]);
  const artifacts = new Map(artifactEntries.filter((item) => item !== undefined));
  const [processAncestry, owners, exits] = await Promise.all([
    ancestryOfLiveAgents(artifacts, servers, options.parentPid ?? (async (pid) => parentPid(pid))),
    ownerFiles(servers, registry.file),
    deadPanes(registry, servers, options.tmux),
  ]);
  // Whether the mam process that is starting an entry still runs: a dead one never finishes it (issue 11).
  const starters = new Map<number, boolean>();
  for (const entry of registry.entries) {
    if (entry.status === 'starting' && entry.starting_pid != null && entry.starting_pid > 1) starters.set(entry.starting_pid, signalable(entry.starting_pid));
  }
  return { at, servers, artifacts, processAncestry, problems, owners, starters, exits, boot: hostBoot() };
}

/**
 * The exit status and last screen of each registered, running (or starting) session whose agent exited in a session
 * mam started (issue 13.4) — rare, and closed by the same pass, so one tmux call per such session. The status is
 * read again here, after the listing: tmux sets it only once it has reaped the agent (see deadPane). A pane that
 * could not be read (closed meanwhile) is left out: reconcile then keeps the status the listing had.
 */
async function deadPanes(registry: ReconcileInput, servers: readonly ServerSnapshot[], tmux: TmuxOptions): Promise<Map<string, AgentExit>> {
  const judged = new Set(registry.entries.filter((entry) => entry.status === 'running' || entry.status === 'starting').map((entry) => exitKey(entry.tmux_server ?? null, entry.name)));
  const reads: Promise<readonly [string, AgentExit] | undefined>[] = [];
  for (const snapshot of servers) {
    const dead = new Map<string, ServerSnapshot['panes'][number]>();
    for (const pane of snapshot.panes) if (pane.dead && !dead.has(pane.session)) dead.set(pane.session, pane);
    for (const [session, pane] of dead) {
      const key = exitKey(snapshot.server, session);
      if (!judged.has(key) || !agentExited(snapshot.panes.filter((other) => other.session === session))) continue;
      reads.push(deadPane(snapshot.server, pane.paneId, tmux).then((exit) => (exit ? ([key, exit] as const) : undefined)));
    }
  }
  return new Map((await Promise.all(reads)).filter((read) => read !== undefined));
}

/**
 * For every other registry that marks a session seen (`@mam_registry`): does its file still exist? Only a
 * definite "no such file" counts as gone — an unreadable directory is not a licence to adopt its sessions.
 */
async function ownerFiles(servers: readonly ServerSnapshot[], self: string | undefined): Promise<Map<string, boolean>> {
  const paths = new Set<string>();
  for (const snapshot of servers) for (const pane of snapshot.panes) if (pane.owner !== null && pane.owner !== self) paths.add(pane.owner);
  const owners = new Map<string, boolean>();
  await Promise.all(
    [...paths].map(async (file) => {
      const gone = !path.isAbsolute(file) ? false : await stat(file).then(() => false, (error: NodeJS.ErrnoException) => error.code === 'ENOENT' || error.code === 'ENOTDIR');
      owners.set(file, !gone);
    }),
  );
  return owners;
}

function needsArtifacts(entry: RegistryEntry): boolean {
  const kind = agentKind(entry.agent);
  if (!kind) return false;
  const id = entry[kind.conversationIdField];
  return (entry.status === 'running' && id == null) || Boolean(id) || Boolean(entry.agent_identities?.[kind.id]?.session_id);
}

async function entryArtifacts(entry: RegistryEntry, query: ArtifactQuery): Promise<EntryArtifacts | undefined> {
  const kind = agentKind(entry.agent);
  if (!kind) return undefined;
  const root = kind.artifactRoot(query.roots);
  const rootExists = await query.fs.exists(root);

  const awaitingId = entry.status === 'running' && entry[kind.conversationIdField] == null;
  const createdMs = timestampMs(entry.created_at);
  const candidates: Conversation[] =
    awaitingId && rootExists
      ? await kind.conversations(entry.workspace, query, createdMs === undefined ? undefined : createdMs - CANDIDATE_LOOKBACK_MS)
      : [];

  const toCheck = new Map<string, string[]>();
  const note = (field: string, id: string | null | undefined): void => {
    if (id) toCheck.set(field, [id]);
  };
  note(kind.conversationIdField, entry[kind.conversationIdField]);
  note(`agent_identities.${kind.id}.session_id`, entry.agent_identities?.[kind.id]?.session_id);
  const recorded: RecordedId[] = await Promise.all(
    [...toCheck].map(async ([field, [id]]) => ({
      field,
      id: id!,
      path: rootExists ? await kind.locate(id!, entry.workspace, query) : null,
    })),
  );
  return { agent: kind.id, root, rootExists, candidates, recorded };
}

/**
 * Live agent pids (from the agents' own records) and their ancestors, up to the tmux pane that started
 * them. Lets reconcile tell whose pane a live conversation runs in when the agent is a shell's child.
 */
async function ancestryOfLiveAgents(
  artifacts: ReadonlyMap<string, EntryArtifacts>,
  servers: readonly ServerSnapshot[],
  parentPid: (pid: number) => Promise<number | undefined>,
): Promise<Map<number, number[]>> {
  const panePids = new Set(servers.flatMap((snapshot) => snapshot.panes.map((pane) => pane.pid)));
  const livePids = new Set<number>();
  for (const facts of artifacts.values()) {
    for (const conversation of facts.candidates) if (conversation.livePid !== undefined) livePids.add(conversation.livePid);
  }
  const ancestry = new Map<number, number[]>();
  await Promise.all(
    [...livePids].map(async (pid) => {
      const lineage = [pid];
      let current: number | undefined = pid;
      for (let depth = 0; depth < 8 && current !== undefined && current > 1 && !panePids.has(current); depth += 1) {
        current = await parentPid(current);
        if (current !== undefined) lineage.push(current);
      }
      ancestry.set(pid, lineage);
    }),
  );
  return ancestry;
}
