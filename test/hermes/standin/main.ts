import type { HermesEnv, HermesOptions, HermesResult } from './api.js';
import { allVerbNames, looksLikeOption, parseArgs, UNIMPLEMENTED_VERBS, usageError, usageOf, VERBS } from './args.js';
import { Store } from './board.js';
import { cmdAssignees, cmdCreate, cmdInit, cmdList, cmdLog, cmdRuns, cmdShow, cmdStats } from './commands/board.js';
import type { Handler } from './commands/call.js';
import { cmdDaemon, cmdDispatch } from './commands/dispatch.js';
import { cmdArchive, cmdAssign, cmdBlock, cmdClaim, cmdComment, cmdComplete, cmdEdit, cmdHeartbeat, cmdLink, cmdPromote, cmdReassign, cmdReclaim, cmdSchedule, cmdUnblock, cmdUnlink } from './commands/task.js';
import { CliExit, Ctx, kanbanError, standinError } from './context.js';
import { pyRepr } from './output.js';
import { lockSettings, resolveBoardPaths } from './paths.js';

/** Entry: `hermes kanban [--board <slug>] <verb> …`, from argv to the verb's handler and back to an exit code. */

/**
 * Runs `hermes <argv…>` against the board that `env` selects and returns what the real CLI would print and
 * its exit code. Only `kanban …` is implemented.
 */
export async function runHermes(
  argv: readonly string[],
  env: HermesEnv,
  options: HermesOptions = {},
): Promise<HermesResult> {
  const ctx = new Ctx(env, options);
  let exitCode: number;
  try {
    exitCode = await main(ctx, [...argv]);
  } catch (error) {
    if (error instanceof CliExit) {
      if (error.stdout !== undefined) ctx.out(error.stdout);
      if (error.line !== '') ctx.err(error.line);
      exitCode = error.code;
    } else {
      ctx.err(`kanban: ${error instanceof Error ? error.message : String(error)}`);
      exitCode = 1;
    }
  }
  return ctx.result(exitCode);
}

const KANBAN_USAGE = `usage: hermes kanban [-h] [--board <slug>] {${allVerbNames().join(',')}} ...`;

async function main(ctx: Ctx, argv: string[]): Promise<number> {
  if (argv[0] !== 'kanban') throw standinError("only 'kanban' is implemented");
  const tokens = argv.slice(1);
  let board: string | null = null;
  let index = 0;
  for (; index < tokens.length; index += 1) {
    const token = tokens[index] ?? '';
    if (token === '-h' || token === '--help') {
      ctx.out(KANBAN_USAGE);
      return 0;
    }
    if (token === '--board' || (token.startsWith('--b') && '--board'.startsWith(token) && token.length > 2)) {
      const value = tokens[index + 1];
      if (value === undefined || looksLikeOption(value)) throw usageError('hermes kanban', KANBAN_USAGE, 'argument --board: expected one argument');
      board = value;
      index += 1;
      continue;
    }
    if (token.startsWith('--board=')) {
      board = token.slice('--board='.length);
      continue;
    }
    if (looksLikeOption(token)) {
      throw usageError('hermes', 'usage: hermes [-h] [--version] {kanban,…} ...', `unrecognized arguments: ${token}`);
    }
    break;
  }
  const verbName = tokens[index];
  if (verbName === undefined) {
    ctx.out(KANBAN_USAGE);
    return 0;
  }
  const rest = tokens.slice(index + 1);
  if (UNIMPLEMENTED_VERBS.includes(verbName)) throw standinError(`'kanban ${verbName}' is not implemented`);
  const spec = VERBS.find((verb) => verb.name === verbName || verb.aliases?.includes(verbName));
  if (!spec) {
    throw usageError(
      'hermes kanban',
      KANBAN_USAGE,
      `argument kanban_action: invalid choice: ${pyRepr(verbName)} (choose from ${allVerbNames().map((n) => pyRepr(n)).join(', ')})`,
    );
  }
  const prog = `hermes kanban ${verbName}`;
  const args = parseArgs(prog, spec, rest);
  if (board !== null && board.trim() === '') throw kanbanError('--board requires a slug', 2);
  const bp = resolveBoardPaths(ctx.env, board);
  const store = new Store(bp.file, { ...lockSettings(ctx.env), inProcess: ctx.options.soleUser === true });
  try {
    await store.ensure();
  } catch (error) {
    if (error instanceof CliExit) throw error;
    throw kanbanError(`could not initialize database: ${(error as Error).message}`);
  }
  const handler = HANDLERS[spec.name];
  if (!handler) throw standinError(`'kanban ${verbName}' is not implemented`);
  return handler({ ctx, bp, store, args, prog, usage: usageOf(prog, spec) });
}

const HANDLERS: Record<string, Handler> = {
  init: cmdInit,
  create: cmdCreate,
  list: cmdList,
  show: cmdShow,
  assign: cmdAssign,
  reclaim: cmdReclaim,
  reassign: cmdReassign,
  link: cmdLink,
  unlink: cmdUnlink,
  claim: cmdClaim,
  comment: cmdComment,
  complete: cmdComplete,
  edit: cmdEdit,
  block: cmdBlock,
  schedule: cmdSchedule,
  unblock: cmdUnblock,
  promote: cmdPromote,
  archive: cmdArchive,
  dispatch: cmdDispatch,
  daemon: cmdDaemon,
  stats: cmdStats,
  log: cmdLog,
  runs: cmdRuns,
  heartbeat: cmdHeartbeat,
  assignees: cmdAssignees,
};

/** The board file a given environment resolves to (for tests that inspect stand-in internals). */
export function boardFileFor(env: HermesEnv, board: string | null = null): string {
  return resolveBoardPaths(env, board).file;
}
