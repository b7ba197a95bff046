/**
 * The board a monitor worker reports to. Two implementations: the Hermes Kanban CLI (a real card) and
 * the local board (terminal + JSONL log) that is the embedded default when no card is given.
 */
export interface CardComment {
  readonly author: string;
  readonly body: string;
  /** Epoch seconds, as Hermes stores them. */
  readonly createdAt: number;
}

export interface CardSnapshot {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  /** Hermes statuses: triage, todo, scheduled, ready, running, blocked, review, done, archived. */
  readonly status: string;
  /** Every comment, oldest first. Comments carry no id: a cursor is a count. */
  readonly comments: readonly CardComment[];
  /** A goal card (Hermes `--goal`), and its turn budget when the card set one. */
  readonly goal?: { readonly maxTurns: number | undefined };
}

export type BlockKind = 'needs_input' | 'transient' | 'capability' | 'dependency';

export interface Board {
  readonly kind: 'hermes' | 'local';
  /** The card id, or `local`. */
  readonly cardId: string;
  /** The author name this worker's own comments carry; anyone else is a person (or another tool). */
  readonly self: string;
  read(): Promise<CardSnapshot>;
  comment(text: string): Promise<void>;
  heartbeat(note: string): Promise<void>;
  block(reason: string, kind: BlockKind): Promise<void>;
  complete(summary: string): Promise<void>;
}

/** A board call that failed; `ambiguous` means it may have taken effect (timeout, lost reply). */
export class BoardError extends Error {
  constructor(
    message: string,
    readonly ambiguous: boolean,
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'BoardError';
  }
}
