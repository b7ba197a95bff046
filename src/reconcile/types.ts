import type { AgentId, Conversation } from '../agents/types.js';
import type { EntryFields } from '../registry/document.js';
import type { PaneFacts, RegistryEntry } from '../registry/schema.js';
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
}

export interface EntryArtifacts {
  readonly agent: AgentId;
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

/** The four drift classes of seed 000 (DESIGN: drift classes). Keys are the `--emit-diff` JSON contract. */
export type Drift =
  | (DriftBase & { readonly class: 'A'; readonly tmux_server: string | null; readonly pane: PaneFacts | null })
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
  readonly kind: 'invalid-entry' | 'tmux-unavailable' | 'unsafe-session-name' | 'artifacts-unreadable' | 'ambiguous-conversation';
  readonly message: string;
  readonly session?: string;
  readonly line?: number;
  readonly tmux_server?: string | null;
}

/** The registry edits a pass wants: field updates on existing entries, and new entries. */
export interface RegistryPatch {
  readonly updates: readonly { readonly session: string; readonly set: EntryFields }[];
  readonly additions: readonly RegistryEntry[];
}

export interface ReconcileResult {
  readonly drifts: readonly Drift[];
  readonly patch: RegistryPatch;
  readonly problems: readonly Problem[];
}

export function isEmptyPatch(patch: RegistryPatch): boolean {
  return patch.updates.length === 0 && patch.additions.length === 0;
}
