import { existsSync, readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { expect } from 'vitest';
import { eachTest } from './each-test.js';
import { HERMES, hermesCli, hermesSetup, killPids, showCard, type HermesCall, type ShownCard } from './hermes-cli.js';
import { mam, REPO, Sandbox } from './sandbox.js';
import { until } from './until.js';

/**
 * The Kanban lane's end-to-end set-up (docs/lane.md), shared by the test/cli/lane*.e2e files: a sandbox, Hermes with
 * `mam` as its HERMES_BIN and the lane profile `codex-tmux`, and a fake Codex (test/fixtures/fake-agent.mjs) on PATH
 * whose every start and typed line is logged. The test plays the person (comments) and the agent's reports
 * (`mam job event`, the commands its first prompt names).
 */
export const FAKE_AGENT = path.join(REPO, 'test/fixtures/fake-agent.mjs');
export const LOOK = { intervalMs: 250 } as const;

export interface Logged {
  event: string;
  pid: number;
  text?: string;
  resume?: string | null;
  id?: string;
}

export interface Entry {
  name: string;
  status: string;
  kanban_card?: string;
  delegate_job_id?: string;
  delegate_job_registry?: string;
  pane?: { pid: number };
}

export type LaneCard = ShownCard & { task: { status: string; result?: string | null } };

export class LaneFixture {
  /** Mutable: a test may swap the workers' `hermes` (MAM_HERMES_BIN) or add settings before it dispatches. */
  env: NodeJS.ProcessEnv;
  private readonly cardIds: string[] = [];

  private constructor(
    readonly box: Sandbox,
    readonly bin: string,
    readonly server: string,
    readonly agentLog: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.env = env;
  }

  static async create(prefix = 'mam-lane-'): Promise<LaneFixture> {
    const box = await Sandbox.create(prefix);
    const server = box.serverName('lane');
    const agentLog = path.join(box.root, 'agent.log');
    const { home, bin, env } = await hermesSetup(box, {
      MAM_TMUX_SERVER: server,
      MAM_REGISTRY: box.registry,
      FAKE_AGENT_LOG: agentLog,
      CODEX_HOME: path.join(box.root, 'codex-home'),
    });
    await mkdir(path.join(home, 'profiles', 'codex-tmux'), { recursive: true });
    await symlink(FAKE_AGENT, path.join(bin, 'codex'));
    return new LaneFixture(box, bin, server, agentLog, env);
  }

  /** Ends the workers the dispatcher started for this test's cards (by pid), the tmux server, the fake agents. */
  async dispose(): Promise<void> {
    const cards = await Promise.all(this.cardIds.splice(0).map((id) => this.show(id).catch(() => undefined)));
    killPids(cards.flatMap((card) => card?.runs.flatMap((item) => (item.worker_pid ? [item.worker_pid] : [])) ?? []));
    await this.box.tmux(this.server, 'kill-server').catch(() => undefined);
    const pids = this.logged().filter((event) => event.event === 'start').map((event) => event.pid);
    await until(() => pids.every((pid) => !existsSync(`/proc/${pid}`)), 'the fake agents to exit', 30_000).catch(() => undefined);
    await this.box.dispose();
  }

  hermes(args: string[], as: NodeJS.ProcessEnv = {}): Promise<HermesCall> {
    return hermesCli(HERMES, args, { ...this.env, ...as });
  }

  show(id: string): Promise<LaneCard> {
    return showCard(HERMES, id, this.env) as Promise<LaneCard>;
  }

  dispatch(): Promise<HermesCall> {
    return this.hermes(['kanban', 'dispatch', '--json']);
  }

  /** Cleaned up with the fixture: its worker pids are killed. */
  track(id: string): string {
    this.cardIds.push(id);
    return id;
  }

  async createCard(body: string, extra: string[] = [], assignee = 'codex-tmux'): Promise<string> {
    const created = await this.hermes(['kanban', 'create', 'write the notes', '--assignee', assignee, '--body', body, ...extra, '--json']);
    expect(created.code, created.stderr).toBe(0);
    return this.track((JSON.parse(created.stdout) as { id: string }).id);
  }

  logged(): Logged[] {
    if (!existsSync(this.agentLog)) return [];
    return readFileSync(this.agentLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Logged);
  }

  typed(pattern: RegExp): boolean {
    return this.logged().some((event) => event.event === 'line' && pattern.test(event.text ?? ''));
  }

  entry(name: string): Entry | undefined {
    if (!existsSync(this.box.registry)) return undefined;
    const doc = parse(readFileSync(this.box.registry, 'utf8')) as { tmux_sessions?: Entry[] } | null;
    return doc?.tmux_sessions?.find((candidate) => candidate.name === name);
  }

  /** The agent's side: the report command its (latest) prompt names, on the job its registry entry points at. */
  async report(name: string, event: string, detail?: string): Promise<void> {
    const current = this.entry(name)!;
    const result = await mam(['job', 'event', '--job', current.delegate_job_id!, '--registry-dir', current.delegate_job_registry!, '--event', event, ...(detail ? ['--detail', detail] : [])], this.env);
    expect([0, 2], result.stderr).toContain(result.code);
  }

  /** Dispatches the card and waits for its agent to run with its first prompt. */
  async started(id: string): Promise<string> {
    const name = `${id}-codex`;
    await this.dispatch();
    await until(() => this.entry(name)?.status === 'running' && this.typed(/Your job_id is/), 'the agent and its first prompt', 180_000, LOOK);
    return name;
  }

  /** LOOK, and on a timeout the card's comments and the agent's log: usually all it takes to see why. */
  looking(id: string): typeof LOOK & { detail: () => Promise<string> } {
    return {
      ...LOOK,
      detail: async () =>
        `comments:\n${(await this.show(id)).comments.map((comment) => `${comment.author}: ${comment.body}`).join('\n')}\nagent log:\n${this.logged().map((event) => `${event.event} ${event.pid}`).join('\n')}`,
    };
  }
}

export const hasComment = (card: ShownCard, pattern: RegExp): boolean => card.comments.some((comment) => pattern.test(comment.body));

/**
 * A fresh LaneFixture for each test of the calling file (made before it, disposed after it), and the fixture's methods
 * bound to whichever one is current, for the files that drive one card at a time.
 */
export function laneEachTest(prefix = 'mam-lane-') {
  const lane = eachTest('the lane fixture', () => LaneFixture.create(prefix), (fixture) => fixture.dispose());
  return {
    lane,
    hermes: (args: string[], as: NodeJS.ProcessEnv = {}) => lane().hermes(args, as),
    show: (id: string) => lane().show(id),
    dispatch: () => lane().dispatch(),
    createCard: (body: string, extra: string[] = []) => lane().createCard(body, extra),
    logged: (): Logged[] => lane().logged(),
    typed: (pattern: RegExp): boolean => lane().typed(pattern),
    entry: (name: string) => lane().entry(name),
    report: (name: string, event: string, detail?: string) => lane().report(name, event, detail),
    started: (id: string) => lane().started(id),
    looking: (id: string) => lane().looking(id),
  };
}
