import { execa } from 'execa';
import pRetry, { AbortError } from 'p-retry';
import * as z from 'zod';
import { parseJsonOrUndefined } from '../util/json.js';
import { BoardError, type Board, type BlockKind, type CardSnapshot } from './types.js';

/**
 * A Hermes Kanban card driven through the `hermes kanban` CLI, exactly as Hermes 0.18 documents it
 * (docs/hermes-kanban.md, 'The CLI'). Most verbs have no JSON output: success is the exit code plus the
 * expected text. Every call has a timeout; the read-only and idempotent calls (show, heartbeat) are
 * retried with backoff, while a comment is tried once per call — a comment whose outcome is unknown
 * is settled by the caller against the card, never by a blind resend.
 */
export interface HermesResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The call was killed for running too long: it may or may not have taken effect. */
  readonly timedOut: boolean;
}

/** Runs `hermes <args…>`; injectable so tests can use the stand-in in-process. */
export type HermesRunner = (args: readonly string[]) => Promise<HermesResult>;

export interface HermesBoardOptions {
  readonly cardId: string;
  /** The author this worker's comments carry (`$HERMES_PROFILE` when dispatched). */
  readonly self: string;
  readonly run: HermesRunner;
  /**
   * Runs hermes as an outside automation rather than as this card's worker (no `HERMES_KANBAN_*` run
   * variables), for `unblock`, which newer Hermes refuses inside a worker's environment. Default: `run`.
   */
  readonly outsideRun?: HermesRunner;
  /**
   * This worker's run (`$HERMES_KANBAN_RUN_ID`). When the card has a newer run, this one was superseded
   * (reclaimed, or a hand-over already started the next): the card then reads as `superseded`.
   */
  readonly runId?: number | undefined;
  /** Retries for show and heartbeat within one call (backoff doubles from `minRetryDelayMs`). */
  readonly retries?: number;
  readonly minRetryDelayMs?: number;
}

export function execaRunner(bin: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): HermesRunner {
  return async (args) => {
    const result = await execa(bin, [...args], { env, extendEnv: false, reject: false, timeout: timeoutMs, killSignal: 'SIGKILL', stdin: 'ignore' });
    if (result.exitCode === undefined && !result.timedOut) {
      const reason = result.code === 'ENOENT' ? `${bin} not found: install Hermes or set MAM_HERMES_BIN` : (result.shortMessage ?? 'could not start');
      return { exitCode: 127, stdout: '', stderr: reason, timedOut: false };
    }
    return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: result.timedOut };
  };
}

const BLOCKED = /^(Blocked |\S+ → (todo|triage))/;

const ShowJson = z.object({
  task: z.looseObject({ id: z.string(), title: z.string().nullish(), body: z.string().nullish(), status: z.string() }),
  comments: z.array(z.looseObject({ author: z.string(), body: z.string(), created_at: z.number() })),
  runs: z.array(z.looseObject({ id: z.number() })).optional(),
  events: z.array(z.looseObject({ kind: z.string(), payload: z.looseObject({ run_id: z.number().optional(), goal_mode: z.boolean().nullish(), goal_max_turns: z.number().nullish() }).nullish() })).optional(),
});

export type Claim = { readonly kind: 'claimed'; readonly runId: number | undefined; readonly workspace?: string | undefined } | { readonly kind: 'not-ready'; readonly status: string; readonly detail: string };

/**
 * `hermes kanban claim` for an outside worker (`mam monitor --card`, the lane), and the run it opened: the newest
 * `claimed` event of `show --json` (docs/hermes-kanban.md). A card that cannot be claimed says its status.
 */
export async function claimCard(run: HermesRunner, cardId: string, ttlS: number): Promise<Claim> {
  const claimed = await run(['kanban', 'claim', cardId, '--ttl', String(ttlS)]);
  const shown = await run(['kanban', 'show', cardId, '--json']);
  const card = shown.exitCode === 0 ? ShowJson.safeParse(parseJsonOrUndefined(shown.stdout)) : undefined;
  const parsed = card?.success ? card.data : undefined;
  // The success line too: Hermes 0.16's CLI exits 0 after a refusal (`kanban: cannot claim …` on stderr).
  if (claimed.exitCode !== 0 || !/^Claimed /m.test(claimed.stdout)) return { kind: 'not-ready', status: parsed?.task.status ?? 'unknown', detail: claimed.stderr.trim() || claimed.stdout.trim() };
  const lastClaim = [...(parsed?.events ?? [])].reverse().find((event) => event.kind === 'claimed');
  // `Claimed ID` then `Workspace: <path>` (docs/hermes-kanban.md, 'The CLI'): where the card's worker works.
  const workspace = /^Workspace: (.+)$/m.exec(claimed.stdout)?.[1]?.trim();
  return { kind: 'claimed', runId: lastClaim?.payload?.run_id, ...(workspace ? { workspace } : {}) };
}

/** A goal card says so only in its `created` event (docs/hermes-kanban.md): `goal_mode` and `goal_max_turns`. */
function goalOf(events: z.infer<typeof ShowJson>['events']): Pick<CardSnapshot, 'goal'> {
  const created = events?.find((event) => event.kind === 'created');
  if (created?.payload?.goal_mode !== true) return {};
  const turns = created.payload.goal_max_turns;
  return { goal: { maxTurns: typeof turns === 'number' && Number.isInteger(turns) && turns > 0 ? turns : undefined } };
}

export class HermesBoard implements Board {
  readonly kind = 'hermes' as const;
  readonly cardId: string;
  readonly self: string;
  private readonly run: HermesRunner;
  private readonly outsideRun: HermesRunner;
  private readonly runId: number | undefined;
  private readonly retries: number;
  private readonly minRetryDelayMs: number;

  constructor(options: HermesBoardOptions) {
    this.cardId = options.cardId;
    this.self = options.self;
    this.run = options.run;
    this.outsideRun = options.outsideRun ?? options.run;
    this.runId = options.runId;
    this.retries = options.retries ?? 2;
    this.minRetryDelayMs = options.minRetryDelayMs ?? 1000;
  }

  async read(): Promise<CardSnapshot> {
    const result = await this.retrying(['kanban', 'show', this.cardId, '--json']);
    let parsed: z.infer<typeof ShowJson>;
    try {
      parsed = ShowJson.parse(JSON.parse(result.stdout));
    } catch (error) {
      throw new BoardError(`hermes kanban show ${this.cardId} --json: unexpected output (${(error as Error).message.split('\n', 1)[0]})`, false);
    }
    return {
      id: parsed.task.id,
      title: parsed.task.title ?? '',
      body: parsed.task.body ?? '',
      status: this.superseded(parsed.runs) ? 'superseded' : parsed.task.status,
      comments: parsed.comments.map((comment) => ({ author: comment.author, body: comment.body, createdAt: comment.created_at })),
      ...goalOf(parsed.events),
    };
  }

  private superseded(runs: readonly { id: number }[] | undefined): boolean {
    if (this.runId === undefined || !runs?.length) return false;
    return runs.some((run) => run.id > this.runId!);
  }

  async comment(text: string): Promise<void> {
    await this.once(['kanban', 'comment', this.cardId, text, '--author', this.self], /^Comment added to /);
  }

  async heartbeat(note: string): Promise<void> {
    await this.retrying(['kanban', 'heartbeat', this.cardId, '--note', note], /^Heartbeat recorded for /);
  }

  async block(reason: string, kind: BlockKind): Promise<void> {
    // Not retried: Hermes writes the `BLOCKED:` echo even when the block then fails.
    const args = ['kanban', 'block', this.cardId, reason, '--kind', kind];
    const result = await this.run(args);
    // Hermes before 0.18 has no --kind; its parser refuses it (exit 2) before anything is written.
    if (result.exitCode === 2 && /unrecognized arguments: --kind/.test(result.stderr)) {
      await this.once(args.slice(0, 4), BLOCKED);
      return;
    }
    checkResult(args, result, BLOCKED);
  }

  /**
   * Ends this run by parking the card in `scheduled` (waiting on time, not on a person). Unlike a block it
   * counts toward no loop breaker, and unlike exit 75 it starts no rate-limit cooldown.
   */
  async schedule(reason: string): Promise<void> {
    await this.once(['kanban', 'schedule', this.cardId, reason], /^Scheduled /);
  }

  /** `scheduled`/`blocked` → `ready`: the dispatcher's next tick starts a new run. */
  async release(): Promise<void> {
    const args = ['kanban', 'unblock', this.cardId];
    const result = await this.outsideRun(args);
    checkResult(args, result, /^Unblocked /);
  }

  async complete(summary: string): Promise<void> {
    await this.once(['kanban', 'complete', this.cardId, '--summary', summary], /^Completed /);
  }

  private async once(args: readonly string[], expect?: RegExp): Promise<HermesResult> {
    const result = await this.run(args);
    checkResult(args, result, expect);
    return result;
  }

  private retrying(args: readonly string[], expect?: RegExp): Promise<HermesResult> {
    return pRetry(
      async () => {
        const result = await this.run(args);
        try {
          checkResult(args, result, expect);
        } catch (error) {
          // A refusal (`kanban: cannot …`, exit 1) will not change on retry; a crash or hang may.
          if (error instanceof BoardError && result.exitCode === 1 && !result.timedOut) throw new AbortError(error);
          throw error;
        }
        return result;
      },
      { retries: this.retries, minTimeout: this.minRetryDelayMs, factor: 2, randomize: true },
    );
  }
}

function checkResult(args: readonly string[], result: HermesResult, expect?: RegExp): void {
  const verb = `hermes ${args.slice(0, 3).join(' ')}`;
  if (result.timedOut) throw new BoardError(`${verb}: no answer in time (it may or may not have taken effect)`, true);
  if (result.exitCode !== 0) {
    const detail = result.stderr.trim().split('\n').at(-1) || `exit ${result.exitCode}`;
    // A crash or signal part-way may have written; Hermes's own refusals (exit 1, 2) have not.
    throw new BoardError(`${verb}: ${detail}`, result.exitCode !== 1 && result.exitCode !== 2 && result.exitCode !== 127, result.exitCode);
  }
  if (expect && !expect.test(result.stdout.trim())) {
    throw new BoardError(`${verb}: unexpected reply ${JSON.stringify(result.stdout.trim().slice(0, 120))}`, true, 0);
  }
}

/** The `hermes` this process calls: `$MAM_HERMES_BIN` (else `hermes` on PATH), each call bounded by `$MAM_HERMES_TIMEOUT_MS`. */
export function hermesRunner(env: NodeJS.ProcessEnv): HermesRunner {
  return execaRunner(env['MAM_HERMES_BIN'] || 'hermes', env, Number(env['MAM_HERMES_TIMEOUT_MS']) || 30_000);
}

/** The environment without this run's worker variables: Hermes then takes a call as an outside automation's. */
export function outsideWorkerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const outside = { ...env };
  for (const key of ['HERMES_KANBAN_TASK', 'HERMES_KANBAN_RUN_ID', 'HERMES_KANBAN_CLAIM_LOCK']) delete outside[key];
  return outside;
}
