import type { Conversation } from '../agents/types.js';
import type { EntryFields } from '../registry/document.js';
import type { HostBoot } from '../proc/boot.js';
import type { PaneFacts, RegistryEntry, ServerLoss } from '../registry/schema.js';
import type { ServerSnapshot } from '../tmux/client.js';

/** What one pass saw of reality. Plain data: the reconcile function does no I/O. */
export interface Observation {
  /** Epoch ms at which observing began. */
  readonly at: number;
  readonly servers: readonly ServerSnapshot[];
  /** Artifact facts per registry entry name, for entries whose agent kind keeps artifacts. */
  readonly artifacts: ReadonlyMap<string, EntryArtifacts>;
  /** For each live agent pid found in artifacts: that pid and its ancestors, nearest first. */
  readonly processAncestry: ReadonlyMap<number, readonly number[]>;
  /** Problems met while observing (an unreadable artifact tree, …). */
  readonly problems: readonly Problem[];
  /**
   * Whether each registry that owns a session seen (`@mam_registry`, other than this one) still exists as a file.
   * An owner missing from the map counts as existing: a session is never taken on a guess.
   */
  readonly owners?: ReadonlyMap<string, boolean>;
  /** Whether the process starting each `status: starting` entry (`starting_pid`) is alive; missing counts as alive. */
  readonly starters?: ReadonlyMap<number, boolean>;
  /**
   * What the kept dead pane of a session mam started says (issue 13.4), by `exitKey(server, session)`: read for the
   * registered sessions whose agent has exited, before the pass closes them.
   */
  readonly exits?: ReadonlyMap<string, AgentExit>;
  /** This host's boot (id and start), to tell a reboot from a crashed tmux server (src/reconcile/server-loss.ts). */
  readonly boot?: HostBoot;
}

export interface AgentExit {
  /** `#{pane_dead_status}` read again just before the capture; null when tmux has none (it never reaped the agent). */
  readonly status: number | null;
  /** The dead pane's screen (capture-pane, with some scrollback). */
  readonly screen: string;
}

export interface EntryArtifacts {
  /** The agent kind's id. */
  readonly agent: string;
  /** The agent's artifact directory, and whether it exists at all. */
  readonly root: string;
  readonly rootExists: boolean;
  /** Conversations in the entry's workspace; gathered only while its conversation id is unknown. */
  readonly candidates: readonly Conversation[];
  /** Each id the entry records, and where its artifact is (null: missing). */
  readonly recorded: readonly RecordedId[];
}

export interface RecordedId {
  /** Where in the entry the id is written, e.g. `claude_session_id_own`, `agent_identities.claude.session_id`. */
  readonly field: string;
  readonly id: string;
  readonly path: string | null;
}

export type DriftClass = 'A' | 'B' | 'C' | 'D';

interface DriftBase {
  readonly session: string;
  readonly message: string;
}

/** The four drift classes (docs/reconcile.md, 'Drift classes'). Keys are the `--emit-diff` JSON contract. */
export type Drift =
  | (DriftBase & {
      readonly class: 'A';
      readonly tmux_server: string | null;
      readonly pane: PaneFacts | null;
      /** When the agent's own exit was seen (its pane kept by mam): its exit status (null: unknown) and last lines. */
      readonly exit_status?: number | null;
      readonly last_lines?: readonly string[];
      /** The session went with its tmux server: the host rebooted, or the server crashed (`mam restore` restarts it). */
      readonly tmux_server_lost?: ServerLoss;
    })
  | (DriftBase & {
      readonly class: 'B';
      readonly tmux_server: string | null;
      readonly agent: string;
      readonly workspace: string;
      readonly pane: { readonly pid: number; readonly cmd: string; readonly cwd: string };
    })
  | (DriftBase & { readonly class: 'C'; readonly field: string; readonly conversation_id: string; readonly path: string })
  | (DriftBase & { readonly class: 'D'; readonly fields: readonly string[]; readonly conversation_id: string; readonly artifact_root: string });

/** Things that stopped part of a pass from being judged; reported beside the drifts, never acted on. */
export interface Problem {
  readonly kind: 'invalid-entry' | 'tmux-unavailable' | 'unsafe-session-name' | 'artifacts-unreadable' | 'ambiguous-conversation' | 'owned-elsewhere';
  readonly message: string;
  readonly session?: string;
  readonly line?: number;
  readonly tmux_server?: string | null;
  /** For `owned-elsewhere`: the registry that owns the session. */
  readonly owner?: string;
}

/** Problems that are news, not failures: they never make `reconcile --once` exit 2. */
export const INFORMATIONAL_PROBLEMS: ReadonlySet<Problem['kind']> = new Set(['owned-elsewhere']);

/**
 * A session a pass registers (class B) that must be marked as this registry's in tmux: `from` is the owner it
 * carries now (null: unmarked; a path: an owner whose registry file is gone).
 */
export interface Claim {
  readonly session: string;
  readonly tmux_server: string | null;
  readonly from: string | null;
}

/** The registry edits a pass wants: field updates on existing entries, and new entries. */
export interface RegistryPatch {
  /** `unset`: keys to delete from the entry (bookkeeping that no longer applies, such as `starting_pid`). */
  readonly updates: readonly { readonly session: string; readonly set: EntryFields; readonly unset?: readonly (keyof RegistryEntry & string)[] }[];
  readonly additions: readonly RegistryEntry[];
}

export interface ReconcileResult {
  readonly drifts: readonly Drift[];
  readonly patch: RegistryPatch;
  readonly problems: readonly Problem[];
  /** tmux marks that go with the patch's additions (applied by the pass, before it writes). */
  readonly claims: readonly Claim[];
  /** Dead sessions mam started for this registry, to close once the registry holds what they said (after it writes). */
  readonly closes?: readonly Close[];
}

/** A session whose agent exited, closed by the id of its dead pane: a session of that name started since is not it. */
export interface Close {
  readonly session: string;
  readonly tmux_server: string | null;
  readonly pane_id: string;
}

export function isEmptyPatch(patch: RegistryPatch): boolean {
  return patch.updates.length === 0 && patch.additions.length === 0;
}
