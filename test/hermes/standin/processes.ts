import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI_PATH, type HermesEnv, SUPERVISE_FLAG } from './api.js';
import { type BoardData, Store, type TaskRow, type WorkerExit } from './board.js';
import { clockSeconds, Ctx, sleep } from './context.js';
import type { BoardPaths } from './paths.js';

/**
 * Processes: liveness, termination, and spawning a worker through a detached supervisor that reaps it and records
 * its exit in the board (what a gateway's waitpid registry does; 'The dispatcher').
 */

const require_ = createRequire(import.meta.url);

export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no procfs: trust kill(0)
  }
  return true;
}

function signalWorker(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the worker leads its own session/process group
    return;
  } catch {
    // not a group leader
  }
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after up to 5 s ('The dispatcher'). */
export async function terminateWorker(pid: number | null): Promise<Record<string, unknown>> {
  if (!pid || !pidAlive(pid)) return { terminated: false };
  signalWorker(pid, 'SIGTERM');
  for (let i = 0; i < 50; i += 1) {
    await sleep(100);
    if (!pidAlive(pid)) return { terminated: true, signal: 'SIGTERM' };
  }
  signalWorker(pid, 'SIGKILL');
  for (let i = 0; i < 20; i += 1) {
    await sleep(100);
    if (!pidAlive(pid)) break;
  }
  return { terminated: !pidAlive(pid), signal: 'SIGKILL' };
}

function which(name: string, env: HermesEnv): string | null {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // keep looking
    }
  }
  return null;
}

/** `_resolve_hermes_argv`: `$HERMES_BIN` (path-like made absolute), else `hermes` on PATH. */
function hermesExecutable(env: HermesEnv): string {
  const bin = env['HERMES_BIN'];
  if (bin) return bin.includes('/') ? path.resolve(bin) : (which(bin, env) ?? bin);
  return which('hermes', env) ?? 'hermes';
}

export interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  log: string;
  board_file: string;
  task_id: string;
  run_id: number;
  lock_timeout_ms: number;
  flock_bin: string;
}

type StartResult = { pid: number; supervisorPid: number } | { error: string };

let supervisorArgs: readonly string[] | undefined;
/**
 * How node runs the supervisor: the arguments before SUPERVISE_FLAG. cli.ts passes how it was itself started (the
 * bundle, or tsx and cli.ts); imported in-process, it is cli.ts under tsx.
 */
export function runSupervisorAs(args: readonly string[]): void {
  supervisorArgs = args;
}

function supervisorCommand(): readonly string[] {
  supervisorArgs ??= ['--import', pathToFileURL(require_.resolve('tsx')).href, CLI_PATH];
  return supervisorArgs;
}

/**
 * Starts the detached supervisor, which spawns the worker (new session, cwd = workspace, stdin /dev/null,
 * stdout+stderr appended to the log), reports its pid, waits for it and records the exit in the board.
 */
export function startWorker(spec: SpawnSpec): Promise<StartResult> {
  let child: ChildProcess;
  const logFd = openSync(spec.log, 'a');
  try {
    child = spawn(process.execPath, [...supervisorCommand(), SUPERVISE_FLAG], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['pipe', 'pipe', logFd],
    });
  } finally {
    closeSync(logFd);
  }
  return new Promise<StartResult>((resolve) => {
    let buffer = '';
    let settled = false;
    const finish = (value: StartResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stdin?.destroy();
      child.unref();
      resolve(value);
    };
    const timer = setTimeout(() => finish({ error: 'supervisor did not report a worker pid within 60 s' }), 60_000);
    child.once('error', (error) => finish({ error: `cannot start the worker supervisor: ${error.message}` }));
    child.once('exit', (code, signal) => finish({ error: `worker supervisor exited early (${code ?? signal})` }));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      try {
        const report = JSON.parse(buffer.slice(0, newline)) as { pid?: number; error?: string };
        if (typeof report.pid === 'number' && child.pid !== undefined) finish({ pid: report.pid, supervisorPid: child.pid });
        else finish({ error: report.error ?? 'worker supervisor reported nothing' });
      } catch {
        finish({ error: `worker supervisor said ${JSON.stringify(buffer.slice(0, newline))}` });
      }
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(spec));
  });
}

/**
 * The supervisor's side (run by `cli.ts` with {@link SUPERVISE_FLAG}): what a gateway's waitpid registry
 * does for its children ('The dispatcher'). `report` receives exactly one JSON line: `{"pid":N}` or `{"error":…}`.
 */
export async function superviseWorker(specText: string, report: (line: string) => void): Promise<number> {
  let spec: SpawnSpec;
  try {
    spec = JSON.parse(specText) as SpawnSpec;
  } catch {
    report(JSON.stringify({ error: 'unreadable spawn spec' }));
    return 2;
  }
  const [command, ...args] = spec.argv;
  if (!command) {
    report(JSON.stringify({ error: 'empty argv' }));
    return 2;
  }
  let child: ChildProcess;
  const logFd = openSync(spec.log, 'a');
  try {
    child = spawn(command, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', logFd, logFd], detached: true });
  } catch (error) {
    closeSync(logFd);
    report(JSON.stringify({ error: (error as Error).message }));
    return 0;
  }
  closeSync(logFd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started = await new Promise<{ pid: number } | { error: string }>((resolve) => {
    child.once('spawn', () => resolve({ pid: child.pid ?? -1 }));
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ error: `${command}: ${error.code ?? ''} ${error.message}`.trim() }));
  });
  report(JSON.stringify(started));
  if ('error' in started) return 0;
  const { code, signal } = await exited;
  let exitedAt: number;
  try {
    exitedAt = Math.floor(clockSeconds(spec.env));
  } catch {
    exitedAt = Math.floor(Date.now() / 1000);
  }
  try {
    const store = new Store(spec.board_file, { timeoutMs: spec.lock_timeout_ms, flockBin: spec.flock_bin });
    await store.update((board) => {
      board.worker_exits.push({
        task_id: spec.task_id,
        run_id: spec.run_id,
        pid: started.pid,
        exit_code: code,
        signal,
        exited_at: exitedAt,
      });
      if (board.worker_exits.length > 500) board.worker_exits.splice(0, board.worker_exits.length - 500);
    });
  } catch {
    // the board is gone (test cleanup): nothing to record
  }
  return 0;
}

export function findExit(board: BoardData, task: TaskRow): WorkerExit | undefined {
  return board.worker_exits.find((e) => e.run_id === task.current_run_id && e.pid === task.worker_pid);
}

/** Worker environment ('The dispatcher'): a copy of the dispatcher's plus the kanban variables. */
export function workerEnv(ctx: Ctx, bp: BoardPaths, task: TaskRow, runId: number, lock: string, workspace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(ctx.env)) if (value !== undefined) env[key] = value;
  const assignee = task.assignee ?? 'default';
  Object.assign(env, {
    HERMES_HOME: assignee === 'default' ? bp.root : path.join(bp.root, 'profiles', assignee),
    HERMES_PROFILE: assignee,
    HERMES_KANBAN_TASK: task.id,
    HERMES_KANBAN_RUN_ID: String(runId),
    HERMES_KANBAN_CLAIM_LOCK: lock,
    HERMES_KANBAN_WORKSPACE: workspace,
    HERMES_KANBAN_WORKSPACES_ROOT: bp.workspacesRoot,
    HERMES_KANBAN_DB: bp.file,
    HERMES_KANBAN_BOARD: bp.slug,
    TERMINAL_CWD: workspace,
  });
  if (task.branch_name) env['HERMES_KANBAN_BRANCH'] = task.branch_name;
  if (task.tenant) env['HERMES_TENANT'] = task.tenant;
  if (task.goal_mode) {
    env['HERMES_KANBAN_GOAL_MODE'] = '1';
    if (task.goal_max_turns !== null) env['HERMES_KANBAN_GOAL_MAX_TURNS'] = String(task.goal_max_turns);
  }
  if (task.max_runtime_seconds) {
    const timeout = String(Math.max(1, task.max_runtime_seconds - 30));
    env['TERMINAL_TIMEOUT'] = timeout;
    env['TERMINAL_MAX_FOREGROUND_TIMEOUT'] = timeout;
  }
  return env;
}

/** `_default_spawn`'s argv ('Launch'). */
export function workerArgv(ctx: Ctx, task: TaskRow): string[] {
  const argv = [hermesExecutable(ctx.env), '-p', task.assignee ?? 'default', '--accept-hooks'];
  for (const skill of task.skills ?? []) argv.push('--skills', skill);
  argv.push('chat', '-q', `work kanban task ${task.id}`);
  return argv;
}
