import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Board, BlockKind, CardComment, CardSnapshot } from './types.js';

/**
 * The board when no Hermes card is given: what the worker says goes to the terminal, readably, and to
 * a JSONL log; what a person says arrives as lines typed on stdin (type `stop` to stop) or as
 * SIGINT/SIGTERM, which count as a stop request.
 */
export interface LocalBoardOptions {
  readonly logFile: string;
  readonly output: NodeJS.WritableStream;
  readonly input?: NodeJS.ReadableStream;
  readonly now?: () => number;
}

const SELF = 'mam-monitor';

export class LocalBoard implements Board {
  readonly kind = 'local' as const;
  readonly cardId = 'local';
  readonly self = SELF;
  private readonly comments: CardComment[] = [];
  private status = 'running';
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  private readonly lines: Interface | undefined;
  private pendingInput = false;

  constructor(private readonly options: LocalBoardOptions) {
    this.now = options.now ?? Date.now;
    if (options.input) {
      this.lines = createInterface({ input: options.input, terminal: false });
      this.lines.on('line', (line) => {
        if (line.trim() !== '') this.say('you', line.trim());
      });
    }
  }

  /**
   * Stops reading what a person types. A terminal's stdin keeps the event loop alive for as long as
   * anything reads it, so a monitor that has ended must let go of it or the process never exits.
   */
  close(): void {
    this.lines?.close();
    this.listeners.clear();
  }

  /**
   * True (once) when a person said something since the last take. A worker that was busy when it was
   * said (in a pass, not asleep) must not then sleep a whole interval before it looks.
   */
  takeInput(): boolean {
    const pending = this.pendingInput;
    this.pendingInput = false;
    return pending;
  }

  /** Called whenever a person says something, so a sleeping worker can look at once. */
  onInput(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A signal is a stop request from whoever sent it. */
  stopFromSignal(signal: string): void {
    this.say(`signal ${signal}`, 'stop');
  }

  async read(): Promise<CardSnapshot> {
    return { id: this.cardId, title: 'agent-sessions monitor (local)', body: '', status: this.status, comments: [...this.comments] };
  }

  async comment(text: string): Promise<void> {
    this.comments.push({ author: SELF, body: text, createdAt: Math.floor(this.now() / 1000) });
    await this.record('comment', text);
  }

  async heartbeat(note: string): Promise<void> {
    await this.record('heartbeat', note);
  }

  async block(reason: string, kind: BlockKind): Promise<void> {
    this.status = 'blocked';
    await this.record('block', reason, { block_kind: kind });
  }

  async complete(summary: string): Promise<void> {
    this.status = 'done';
    await this.record('complete', summary);
  }

  private say(author: string, body: string): void {
    this.comments.push({ author, body, createdAt: Math.floor(this.now() / 1000) });
    this.pendingInput = true;
    for (const listener of this.listeners) listener();
  }

  private async record(kind: string, text: string, extra: Record<string, string> = {}): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const label = kind === 'comment' ? '' : `[${kind}] `;
    this.options.output.write(`${at.slice(11, 19)} ${label}${text.replace(/\n/g, '\n         ')}\n`);
    await mkdir(path.dirname(this.options.logFile), { recursive: true });
    await appendFile(this.options.logFile, `${JSON.stringify({ at, kind, text, ...extra })}\n`);
  }
}
