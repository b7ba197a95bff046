import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach } from 'vitest';
import { HERMES, hermesCli, hermesSetup, killPids, showCard, type HermesCall, type ShownCard } from '../helpers/hermes-cli.js';
import { startClaudeSession, type ClaudeSession, type ClaudeSessionOptions } from './fixture.js';
import type { MessagesRequest, Reply } from './model-server.js';

/**
 * What the lane tests with the real Claude Code CLI share (test/claude/lane*.test.ts): a Claude session whose user
 * allows the lane's report command (`mam job event`) and nothing else, Hermes with `mam` as the dispatcher's
 * HERMES_BIN and the profile `claude-tmux` (test/helpers/hermes-cli.ts), and after each test the card's workers and
 * the session gone.
 */
export interface ClaudeLane {
  readonly session: ClaudeSession;
  /** The environment of every `hermes` and `mam` the test runs: Claude's and Hermes's. */
  readonly env: NodeJS.ProcessEnv;
  hermes(args: string[]): Promise<HermesCall>;
  show(id: string): Promise<ShownCard>;
  /** Creates a card for claude-tmux in the session's workspace, remembered for clean-up; its id. */
  createCard(title: string, body: string): Promise<string>;
}

const HERMES_KEYS = ['HERMES_HOME', 'HERMES_BIN', 'MAM_HERMES_BIN', 'HERMES_KANBAN_CRASH_GRACE_SECONDS', 'MAM_LOG_LEVEL'] as const;

export function claudeLaneEachTest(): { start(options: ClaudeSessionOptions): Promise<ClaudeLane> } {
  let lane: ClaudeLane | undefined;
  const cards: string[] = [];
  afterEach(async () => {
    // The workers the dispatcher started for this test's cards, by the pids the board recorded.
    const shown = await Promise.all(cards.splice(0).map((id) => lane?.show(id).catch(() => undefined)));
    killPids(shown.flatMap((card) => card?.runs.flatMap((run) => (run.worker_pid ? [run.worker_pid] : [])) ?? []));
    await lane?.session.dispose();
    lane = undefined;
  });
  return {
    async start(options) {
      const session = await startClaudeSession(options);
      const { box, server, workspace } = session;
      const settingsFile = path.join(box.home, '.claude', 'settings.json');
      const settings = JSON.parse(await readFile(settingsFile, 'utf8').catch(() => '{}')) as Record<string, unknown>;
      await writeFile(settingsFile, JSON.stringify({ ...settings, permissions: { allow: ['Bash(mam job event:*)'] } }));
      const setup = await hermesSetup(box);
      await mkdir(path.join(setup.home, 'profiles', 'claude-tmux'), { recursive: true });
      const env: NodeJS.ProcessEnv = {
        ...session.env,
        ...Object.fromEntries(HERMES_KEYS.map((key) => [key, setup.env[key]])),
        PATH: `${setup.bin}:${session.env['PATH']}`,
        MAM_TMUX_SERVER: server,
        MAM_REGISTRY: box.registry,
      };
      const hermes = (args: string[]): Promise<HermesCall> => hermesCli(HERMES, args, env);
      lane = {
        session,
        env,
        hermes,
        show: (id) => showCard(HERMES, id, env),
        async createCard(title, body) {
          const created = await hermes(['kanban', 'create', title, '--assignee', 'claude-tmux', '--workspace', `dir:${workspace}`, '--body', body, '--json']);
          if (created.code !== 0) throw new Error(`hermes kanban create failed (exit ${created.code}): ${created.stderr}`);
          const id = (JSON.parse(created.stdout) as { id: string }).id;
          cards.push(id);
          return id;
        },
      };
      return lane;
    },
  };
}

/**
 * The scripted model's side of a lane card. The card's first prompt names the report command (`mam job event …
 * --registry-dir <dir>`, docs/lane.md): this is it when `request` is that prompt's main turn, else undefined.
 */
export function cardReportCommand(request: MessagesRequest): string | undefined {
  if (request.kind !== 'main' || request.toolResults.length > 0) return undefined;
  const command = /on start: (.+? --registry-dir \S+) --event started/.exec(request.turnText)?.[1];
  return command && /Kanban card/.test(request.turnText) ? command : undefined;
}

/** The edit the lane tests wait on: not allowed by the user's settings, so Claude asks for approval. */
export const WRITE_NOTES: Reply = { toolUse: { name: 'Bash', input: { command: 'echo hello > notes.txt', description: 'Write the notes' } } };

/** Claude reporting the card done, with its summary, through the report command. */
export const reportCompleted = (report: string, summary: string): Reply => ({
  toolUse: { name: 'Bash', input: { command: `${report} --event completed --detail '${summary}'`, description: 'Report completion' } },
});
