import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';
import { HERMES, hermesCli, hermesSetup, killPids, showCard, type HermesCall, type ShownCard } from './hermes-cli.js';
import { Sandbox } from './sandbox.js';
import { untilValue } from './until.js';

/**
 * What the monitor-doors e2e files share (test/cli/monitor-doors*.e2e.test.ts: the ways Hermes starts the monitor,
 * and runs that last days). They are two files so that vitest runs them side by side: their tests mostly wait on the
 * monitor's real intervals and Hermes's real runtimes.
 *
 * `hermes` is the faithful stand-in (test/hermes) unless MAM_TEST_HERMES names a real Hermes launcher (the real
 * kanban code, run as docs/hermes-kanban.md describes); the same assertions hold for both.
 */
export { HERMES };

/** Each look runs the stand-in CLI, a Node process: look no more often than that, on a loaded machine. */
export const LOOK = { intervalMs: 200 } as const;

export type Card = ShownCard;

/** One test's sandbox, Hermes home, `mam` shim and the cards and processes it started. */
export class Doors {
  readonly cardIds: string[] = [];
  readonly children: ChildProcess[] = [];

  private constructor(
    readonly box: Sandbox,
    readonly hermesHome: string,
    readonly bin: string,
    /** The environment every `hermes` and `mam` of the test runs with; a test may replace it. */
    public env: NodeJS.ProcessEnv,
  ) {}

  static async create(): Promise<Doors> {
    const box = await Sandbox.create('mam-doors-');
    const { home, bin, env } = await hermesSetup(box);
    return new Doors(box, home, bin, env);
  }

  async dispose(): Promise<void> {
    for (const child of this.children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    // Workers the dispatcher started, by the pids the board recorded for this test's cards.
    killPids(await this.workerPids());
    await this.box.dispose();
  }

  hermes(args: string[], as: NodeJS.ProcessEnv = {}): Promise<HermesCall> {
    return hermesCli(HERMES, args, { ...this.env, ...as });
  }

  show(id: string): Promise<Card> {
    return showCard(HERMES, id, this.env);
  }

  private async workerPids(): Promise<number[]> {
    const cards = await Promise.all(this.cardIds.splice(0).map((id) => this.show(id).catch(() => undefined)));
    return cards.flatMap((card) => card?.runs.flatMap((item) => (item.worker_pid ? [item.worker_pid] : [])) ?? []);
  }

  async createCard(args: string[]): Promise<string> {
    const created = await this.hermes(['kanban', 'create', ...args, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    this.cardIds.push(id);
    return id;
  }

  /** A registered session to watch, and the card body lines that point the monitor at it. */
  async watched(): Promise<{ server: string; settings: string }> {
    const server = this.box.serverName('doors');
    for (const name of ['w-creator-claude', 'x-creator-claude']) await this.box.startSession(server, name, path.join(this.box.root, name));
    const entries = ['w-creator-claude', 'x-creator-claude'].map(
      (name) => `  - {name: ${name}, agent: claude, workspace: ${path.join(this.box.root, name)}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}`,
    );
    await this.box.writeRegistry(`tmux_sessions:\n${entries.join('\n')}\n`);
    return { server, settings: `registry: ${this.box.registry}\ninterval: 1s\nheartbeat: 2s` };
  }

  /**
   * `tick`: what cron would do between looks, for a card no daemon dispatches: on a loaded machine a run may reach its
   * budget and hand over (card ready) before it reads the stop, and the next run must read it.
   */
  async stopAndExpectBlocked(id: string, tick: () => Promise<unknown> = () => this.hermes(['kanban', 'dispatch', '--json'])): Promise<Card> {
    expect((await this.hermes(['kanban', 'comment', id, 'stop'])).code).toBe(0);
    const card = await untilValue(async () => {
      const current = await this.show(id);
      if (current.task.status === 'blocked') return current;
      if (current.task.status === 'ready') await tick?.();
      return undefined;
    }, 'the stop block', 180_000, LOOK);
    expect(card.comments.at(-1)!.body).toMatch(/^BLOCKED: stop-requested by user at /);
    return card;
  }
}

export const tellsGone = (name: string) => (comment: { body: string }) => comment.body.includes(`${name}: tmux gone`) && /\[mam-monitor #\d+\]$/.test(comment.body);
