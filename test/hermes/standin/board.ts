import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '../../../src/registry/atomic.js';
import { withLock } from '../../../src/registry/lock.js';
import type { HermesEnv } from './api.js';
import { kanbanError } from './context.js';

/**
 * Board storage: the kanban tables as one JSON file instead of SQLite. Every read-modify-write holds an exclusive
 * flock (`withLock`) and replaces the file with `writeFileAtomic`, so concurrent CLI processes (a test, a worker, a
 * supervisor) never lose an update; reads take no lock.
 */

export interface TaskRow {
  id: string;
  title: string;
  body: string | null;
  assignee: string | null;
  status: string;
  priority: number;
  created_by: string | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  workspace_kind: string;
  workspace_path: string | null;
  branch_name: string | null;
  project_id: string | null;
  claim_lock: string | null;
  claim_expires: number | null;
  tenant: string | null;
  result: string | null;
  idempotency_key: string | null;
  consecutive_failures: number;
  worker_pid: number | null;
  last_failure_error: string | null;
  max_runtime_seconds: number | null;
  last_heartbeat_at: number | null;
  current_run_id: number | null;
  workflow_template_id: string | null;
  current_step_key: string | null;
  skills: string[] | null;
  model_override: string | null;
  max_retries: number | null;
  goal_mode: number;
  goal_max_turns: number | null;
  session_id: string | null;
  block_kind: string | null;
  block_recurrences: number;
  /** Stand-in only: the process that reaps `worker_pid` and records its exit. */
  supervisor_pid: number | null;
}

export interface RunRow {
  id: number;
  task_id: string;
  profile: string | null;
  step_key: string | null;
  status: string;
  claim_lock: string | null;
  claim_expires: number | null;
  worker_pid: number | null;
  max_runtime_seconds: number | null;
  last_heartbeat_at: number | null;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
  summary: string | null;
  metadata: Record<string, unknown> | null;
  error: string | null;
}

export interface CommentRow {
  id: number;
  task_id: string;
  author: string;
  body: string;
  created_at: number;
}

interface EventRow {
  id: number;
  task_id: string;
  run_id: number | null;
  kind: string;
  payload: Record<string, unknown> | null;
  created_at: number;
}

/** What a supervisor saw when it reaped a worker (the gateway's waitpid registry, persisted). */
export interface WorkerExit {
  task_id: string;
  run_id: number;
  pid: number;
  exit_code: number | null;
  signal: string | null;
  exited_at: number;
}

export interface BoardData {
  format: string;
  next_ids: { comment: number; event: number; run: number };
  tasks: TaskRow[];
  links: { parent_id: string; child_id: string }[];
  comments: CommentRow[];
  events: EventRow[];
  runs: RunRow[];
  worker_exits: WorkerExit[];
}

const BOARD_FORMAT = 'hermes-kanban-standin/1';

function emptyBoard(): BoardData {
  return {
    format: BOARD_FORMAT,
    next_ids: { comment: 1, event: 1, run: 1 },
    tasks: [],
    links: [],
    comments: [],
    events: [],
    runs: [],
    worker_exits: [],
  };
}

function parseBoard(text: string, file: string): BoardData {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw kanbanError(`could not initialize database: ${file}: ${(error as Error).message}`);
  }
  const board = data as Partial<BoardData>;
  if (board.format !== BOARD_FORMAT) throw kanbanError(`could not initialize database: ${file} is not a stand-in board`);
  return { ...emptyBoard(), ...board } as BoardData;
}

export interface LockSettings {
  timeoutMs: number;
  flockBin: string;
  /** Serialise updates in this process instead of taking the flock (`HermesOptions.soleUser`). */
  inProcess?: boolean;
}

/** The in-process queue per board file: each update starts when the previous one has settled. */
const inProcessTails = new Map<string, Promise<unknown>>();
function inProcessLock<T>(file: string, critical: () => Promise<T>): Promise<T> {
  const run = (inProcessTails.get(file) ?? Promise.resolve()).then(critical, critical);
  const tail = run.catch(() => undefined);
  inProcessTails.set(file, tail);
  void tail.then(() => {
    if (inProcessTails.get(file) === tail) inProcessTails.delete(file);
  });
  return run;
}

export function flockBin(env: HermesEnv): string {
  const override = env['HERMES_STANDIN_FLOCK'];
  if (override) return override;
  for (const candidate of ['/usr/bin/flock', '/bin/flock']) if (existsSync(candidate)) return candidate;
  return 'flock';
}

export class Store {
  constructor(
    readonly file: string,
    private readonly lock: LockSettings,
  ) {}

  get lockFile(): string {
    return `${this.file}.lock`;
  }

  /** `kb.init_db()`: idempotent. */
  async ensure(): Promise<void> {
    if (existsSync(this.file)) return;
    await mkdir(path.dirname(this.file), { recursive: true });
    await this.locked(async () => {
      if (!existsSync(this.file)) await this.write(serializeBoard(emptyBoard()));
    });
  }

  /** A consistent snapshot without the lock (writers replace the file atomically). */
  async read(): Promise<BoardData> {
    try {
      return parseBoard(await readFile(this.file, 'utf8'), this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyBoard();
      throw error;
    }
  }

  /** One transaction: lock, read, mutate, write back if anything changed. A throw discards the changes. */
  async update<T>(mutate: (board: BoardData) => T | Promise<T>): Promise<T> {
    await mkdir(path.dirname(this.file), { recursive: true });
    return this.locked(async () => {
      await removeStaleTempFiles(this.file);
      let text: string | null = null;
      try {
        text = await readFile(this.file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      const board = text === null ? emptyBoard() : parseBoard(text, this.file);
      const result = await mutate(board);
      const next = serializeBoard(board);
      if (next !== text) await this.write(next);
      return result;
    });
  }

  /**
   * Replaces the file atomically. The board's sole user skips the two fsyncs: they guard against a crash of the
   * machine, which a fake-clock test's board need not survive, and cost a few ms on each of thousands of writes.
   */
  private async write(content: string): Promise<void> {
    if (!this.lock.inProcess) {
      await writeFileAtomic(this.file, content);
      return;
    }
    const temp = `${this.file}.sole-user-tmp`;
    await writeFile(temp, content);
    await rename(temp, this.file);
  }

  private locked<T>(critical: () => Promise<T>): Promise<T> {
    return this.lock.inProcess ? inProcessLock(this.file, critical) : withLock(this.lockFile, critical, this.lock);
  }
}

function serializeBoard(board: BoardData): string {
  return `${JSON.stringify(board, null, 1)}\n`;
}
