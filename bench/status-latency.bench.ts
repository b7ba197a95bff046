/**
 * Status latency on the real Codex and Gemini CLIs (issue 16): from a change on the agent's screen until
 * `mam status --json` shows it, with the agent's hooks installed (and the watcher running, as the first hook starts
 * it) and without (the status then comes from the pane patterns). Per round, three screen changes:
 *
 *   reply ends       the scripted reply on screen and the prompt idle          → activity `waiting`
 *   dialog drawn     the approval dialog on screen                              → `needs_approval`
 *   approval given   the dialog gone after the key (`y` / Enter), the command   → `working`
 *                    (`sleep`) running
 *
 * The screen is captured every 25 ms until it shows the change; from that moment `mam status --json` is run back to
 * back until one answer shows it, and the time until that answer returned is the latency. One status run is therefore
 * the floor, and it is the baseline, measured in the same run against the same registry while the answer does not
 * change (three runs after every round): the ratio says how many status runs' worth of time each change took to
 * show. On a machine whose load swings, each round's latency is divided by that round's baseline, and the median of
 * those ratios is given beside the ratio of the medians.
 *
 * Real CLIs (the npm packages pinned in package.json), scripted model servers (test/codex, test/gemini), temp HOME,
 * private tmux sockets; the fixtures of test/codex and test/gemini set each session up and tear it down.
 * BENCH_STATUS_ROUNDS rounds per agent and mode (default 5) after one warm-up; BENCH_STATUS_AGENTS (default
 * `codex,gemini`). Exit status 0 when the run completed.
 */
import path from 'node:path';
import { capture } from '../test/helpers/real-agent.js';
import { mam } from '../test/helpers/sandbox.js';
import { codexProblem } from '../test/codex/codex-home.js';
import * as codexFixture from '../test/codex/fixture.js';
import type { ScriptStep as CodexStep } from '../test/codex/model-server.js';
import { geminiProblem } from '../test/gemini/gemini-home.js';
import * as geminiFixture from '../test/gemini/fixture.js';
import type { ScriptStep as GeminiStep } from '../test/gemini/model-server.js';

const ROUNDS = Math.max(1, Number(process.env['BENCH_STATUS_ROUNDS'] ?? 5));
const AGENTS = (process.env['BENCH_STATUS_AGENTS'] ?? 'codex,gemini').split(',').map((agent) => agent.trim());
const SCREEN_POLL_MS = 25;
const STEP_TIMEOUT_MS = 180_000;
const SLEEP_SECONDS = 12;

type Change = 'reply ends' | 'dialog drawn' | 'approval given';
const CHANGES: readonly Change[] = ['reply ends', 'dialog drawn', 'approval given'];

/** One live agent session, whatever the agent. */
interface Live {
  readonly env: NodeJS.ProcessEnv;
  readonly registry: string;
  screen(): Promise<string>;
  submit(text: string): Promise<void>;
  key(key: string): Promise<void>;
  dispose(): Promise<void>;
}

interface Agent {
  readonly id: 'codex' | 'gemini';
  readonly problem: string | undefined;
  readonly dialog: string;
  /** The key that allows once. */
  readonly allow: string;
  idle(screen: string): boolean;
  start(hooks: boolean, rounds: number): Promise<Live>;
}

const tag = (round: number): string => `r${round}x`;

const codex: Agent = {
  id: 'codex',
  problem: codexProblem(),
  dialog: codexFixture.APPROVAL_DIALOG,
  allow: 'y',
  idle: codexFixture.isCodexIdle,
  async start(hooks, rounds) {
    const script = (workspace: string): CodexStep[] =>
      Array.from({ length: rounds }, (_, round): CodexStep[] => [
        { trigger: `banana ${tag(round)}`, reply: { text: `BANANA-${tag(round)}`, delayMs: 1_000 } },
        {
          trigger: `approve ${tag(round)}`,
          reply: { call: { name: 'exec_command', arguments: { cmd: `sleep ${SLEEP_SECONDS}; touch ${path.join(workspace, tag(round))}`, sandbox_permissions: 'require_escalated', justification: 'May I?' } } },
          then: { text: `APPROVED-${tag(round)}`, delayMs: 1_500 },
        },
      ]).flat();
    const session = await codexFixture.startCodexSession({ prefix: 'mam-bench-status-codex-', serverTag: 'bstcx', script, hooks, create: true, env: hooks ? { MAM_WATCH: '1' } : {} });
    return live(session, (text) => codexFixture.submit(session.box, session.server, session.target, text));
  },
};

const gemini: Agent = {
  id: 'gemini',
  problem: geminiProblem(),
  dialog: geminiFixture.APPROVAL_DIALOG,
  allow: 'Enter',
  idle: geminiFixture.isGeminiIdle,
  async start(hooks, rounds) {
    const script = (workspace: string): GeminiStep[] =>
      Array.from({ length: rounds }, (_, round): GeminiStep[] => [
        { trigger: `banana ${tag(round)}`, reply: { text: `BANANA-${tag(round)}`, delayMs: 1_000 } },
        {
          trigger: `approve ${tag(round)}`,
          reply: { call: { name: 'run_shell_command', args: { command: `sleep ${SLEEP_SECONDS}; touch ${path.join(workspace, tag(round))}`, description: 'Wait, then make a file' } } },
          then: { text: `APPROVED-${tag(round)}`, delayMs: 1_500 },
        },
      ]).flat();
    const session = await geminiFixture.startGeminiSession({ prefix: 'mam-bench-status-gemini-', serverTag: 'bstgm', script, hooks, create: true, env: hooks ? { MAM_WATCH: '1' } : {} });
    return live(session, (text) => geminiFixture.submit(session.box, session.server, session.target, text));
  },
};

function live(session: { box: codexFixture.CodexSession['box']; server: string; target: string; env: NodeJS.ProcessEnv; dispose(): Promise<void> }, submit: (text: string) => Promise<void>): Live {
  const { box, server, target } = session;
  return {
    env: session.env,
    registry: box.registry,
    screen: () => capture(box, server, target).catch(() => ''),
    submit,
    key: async (key) => void (await box.tmux(server, 'send-keys', '-t', target, key)),
    dispose: () => session.dispose(),
  };
}

async function activity(session: Live): Promise<string | null | undefined> {
  const result = await mam(['status', '--json', '--registry', session.registry], session.env);
  if (result.code !== 0) throw new Error(`mam status failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { sessions: { activity?: string | null }[] }).sessions[0]?.activity;
}

/** Polls the screen until `shows` holds; the moment it first did (performance.now()). */
async function screenChange(session: Live, shows: (screen: string) => boolean, what: string): Promise<number> {
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const screen = await session.screen();
    if (shows(screen)) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}\n${screen}`);
    await new Promise((resolve) => setTimeout(resolve, SCREEN_POLL_MS));
  }
}

/** Milliseconds from `since` until a `mam status --json` run, started at or after it, returns `wanted`. */
async function statusShows(session: Live, wanted: string, since: number): Promise<number> {
  const deadline = since + STEP_TIMEOUT_MS;
  for (;;) {
    if ((await activity(session)) === wanted) return performance.now() - since;
    if (performance.now() > deadline) throw new Error(`mam status never showed ${wanted}`);
  }
}

/** One round: the three changes, timed. */
async function round(agent: Agent, session: Live, index: number): Promise<Record<Change, number>> {
  const t = tag(index);
  await session.submit(`please say banana ${t}`);
  const replied = await screenChange(session, (screen) => screen.includes(`BANANA-${t}`) && agent.idle(screen), 'the reply');
  const replyEnds = await statusShows(session, 'waiting', replied);

  await session.submit(`please approve ${t}`);
  const drawn = await screenChange(session, (screen) => screen.includes(agent.dialog), 'the dialog');
  const dialogDrawn = await statusShows(session, 'needs_approval', drawn);

  await session.key(agent.allow);
  const allowed = await screenChange(session, (screen) => !screen.includes(agent.dialog), 'the dialog to close');
  const approvalGiven = await statusShows(session, 'working', allowed);

  await screenChange(session, (screen) => screen.includes(`APPROVED-${t}`) && agent.idle(screen), 'the approved turn to end');
  await statusShows(session, 'waiting', performance.now());
  return { 'reply ends': replyEnds, 'dialog drawn': dialogDrawn, 'approval given': approvalGiven };
}

/** The baseline: one `mam status --json` run, while the answer stays the same (the agent idle). */
async function baseline(session: Live, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < runs; index += 1) {
    const started = performance.now();
    if ((await activity(session)) !== 'waiting') throw new Error('the baseline needs an idle agent');
    times.push(performance.now() - started);
  }
  return times;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
}

const fmt = (ms: number): string => `${Math.round(ms)} ms`;

async function measure(agent: Agent, hooks: boolean): Promise<{ changes: Record<Change, number[]>; ratios: Record<Change, number[]>; baseline: number[] }> {
  // Round 0 is a warm-up: the first turn loads the CLI's lazy parts and, with hooks, starts the watcher.
  const session = await agent.start(hooks, ROUNDS + 1);
  try {
    const changes: Record<Change, number[]> = { 'reply ends': [], 'dialog drawn': [], 'approval given': [] };
    const ratios: Record<Change, number[]> = { 'reply ends': [], 'dialog drawn': [], 'approval given': [] };
    const base: number[] = [];
    for (let index = 0; index <= ROUNDS; index += 1) {
      const times = await round(agent, session, index);
      const still = await baseline(session, 3);
      if (index === 0) continue;
      for (const change of CHANGES) {
        changes[change].push(times[change]);
        ratios[change].push(times[change] / median(still));
      }
      base.push(...still);
      process.stderr.write(`${agent.id} ${hooks ? 'hooks' : 'pane'} round ${index}: ${CHANGES.map((change) => `${change} ${fmt(times[change])}`).join(', ')}; status run ${fmt(median(still))}\n`);
    }
    return { changes, ratios, baseline: base };
  } finally {
    await session.dispose();
  }
}

async function main(): Promise<void> {
  console.log(`status latency, ${ROUNDS} rounds per agent and mode after 1 warm-up; node ${process.version}`);
  for (const agent of [codex, gemini].filter((candidate) => AGENTS.includes(candidate.id))) {
    if (agent.problem) {
      console.log(`${agent.id}: skipped (${agent.problem})`);
      continue;
    }
    for (const hooks of [true, false]) {
      const { changes, ratios, baseline: base } = await measure(agent, hooks);
      const floor = median(base);
      console.log(`\n${agent.id}, ${hooks ? 'hooks (+ watcher)' : 'pane patterns (no hooks)'}; baseline: one mam status --json run, median ${fmt(floor)} (${base.length} runs)`);
      for (const change of CHANGES) {
        const values = changes[change];
        console.log(`  ${change.padEnd(15)} median ${fmt(median(values)).padStart(8)}  min ${fmt(Math.min(...values)).padStart(8)}  max ${fmt(Math.max(...values)).padStart(8)}  = ${(median(values) / floor).toFixed(1)}× the baseline (per round: median ${median(ratios[change]).toFixed(2)}×)`);
      }
    }
  }
}

await main();
