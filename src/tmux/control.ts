import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { runTmux, serverArgs, serverLabel, type TmuxOptions, type TmuxServer } from './client.js';
import { killSession } from './session.js';

/**
 * A tmux control-mode client (`tmux -C`; docs/tmux.md, 'Control mode') for one server: the push channel that
 * tells a long-running `mam` that sessions came or went, and a cheap way to ask the server things.
 *
 * - It attaches to a session of its own, `__monitor` (shared by every mam control client of that
 *   server), never to an agent's session. The last client to leave kills it. Not `destroy-unattached`:
 *   with that option set, tmux 3.3a segfaults — losing every session — within a few dozen attach/detach
 *   cycles while other sessions come and go (measured: 3 of 3 runs, none in 450 cycles without it).
 *   A session left behind by a crashed `mam` is reused by the next client, or removed once it is all the
 *   server holds.
 * - It attaches read-only, with no pane output, where tmux allows it (`-f read-only,no-output,ignore-size`,
 *   tmux ≥ 3.2): it only listens and asks, it never types into a pane.
 * - Whenever a client goes away without removing the session — tmux refused it, or it exited at once (tmux
 *   3.6a answers every `-C` client with `%exit`), or stdin closed — `removeIdleMonitorSession` removes the
 *   session if no client is attached to it, so failed attempts never leave one behind.
 * - It never starts a server: `tmux -C new-session` would, so `connectControl` first asks the server
 *   over the CLI and reports `unavailable` when none runs (the caller polls and retries).
 * - Replies are framed `%begin … %end|%error` and never interleave with notifications, so a line parser
 *   plus a FIFO of pending commands is enough.
 * - `close()` ends stdin and waits for the process to exit. Leaving a control client behind while its
 *   server exits wedges that socket for every later client (docs/tmux.md, 'Control mode'), so a process-exit
 *   hook also signals any client still open.
 */
export const MONITOR_SESSION = '__monitor';

/** One `%name args…` line outside a reply block. */
export interface ControlNotification {
  /** Without the `%`: `sessions-changed`, `unlinked-window-close`, `window-close`, `session-renamed`, `exit`, … */
  readonly name: string;
  readonly args: readonly string[];
  readonly line: string;
}

/** Emitted once, when the client process has exited (server gone, session killed, closed by us). */
export interface ControlExit {
  readonly name: 'exit';
  /** `closed` when close() ended it; else what tmux said in `%exit`, or how the process ended. */
  readonly reason: string;
  readonly closedByUs: boolean;
}

export type ControlEvent = ControlNotification | ControlExit;

export class TmuxCommandError extends Error {
  constructor(readonly command: string, readonly output: readonly string[]) {
    super(`tmux ${command}: ${output.join(' ').trim() || 'failed'}`);
    this.name = 'TmuxCommandError';
  }
}

export class ControlClosedError extends Error {
  constructor(readonly server: TmuxServer, reason: string) {
    super(`tmux control client for server ${serverLabel(server)} is closed (${reason})`);
    this.name = 'ControlClosedError';
  }
}

// ---------------------------------------------------------------------------------------------------
// The line protocol

export type ParsedItem =
  | { readonly type: 'reply'; readonly ok: boolean; readonly number: string; readonly fromClient: boolean; readonly lines: readonly string[] }
  | { readonly type: 'notification'; readonly notification: ControlNotification };

const GUARD = /^%(begin|end|error) (\d+) (\d+) (\d+)$/;

/**
 * Splits control-mode output into replies and notifications. Lines between `%begin` and the `%end` or
 * `%error` with the same command number are a reply, whatever they look like.
 */
export class ControlParser {
  private buffer = '';
  private block: { number: string; fromClient: boolean; lines: string[] } | undefined;

  push(chunk: string): ParsedItem[] {
    this.buffer += chunk;
    const items: ParsedItem[] = [];
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      const item = this.line(line);
      if (item) items.push(item);
    }
    return items;
  }

  private line(line: string): ParsedItem | undefined {
    const guard = GUARD.exec(line);
    if (this.block) {
      if (guard && guard[1] !== 'begin' && guard[3] === this.block.number) {
        const { number, fromClient, lines } = this.block;
        this.block = undefined;
        return { type: 'reply', ok: guard[1] === 'end', number, fromClient, lines };
      }
      this.block.lines.push(line);
      return undefined;
    }
    if (guard && guard[1] === 'begin') {
      // flags 1: a command this client sent on stdin; 0: the command list it was started with.
      this.block = { number: guard[3]!, fromClient: guard[4] !== '0', lines: [] };
      return undefined;
    }
    if (!line.startsWith('%')) return undefined; // not expected outside a block; nothing to do with it
    const [head = '%', ...args] = line.split(' ');
    return { type: 'notification', notification: { name: head.slice(1), args, line } };
  }
}

/** One argument in tmux's command syntax: double quotes, with `\`, `"` and `$` escaped. */
export function quoteArg(arg: string): string {
  if (/[\n\r]/.test(arg)) throw new Error(`a tmux control command cannot carry a line break: ${JSON.stringify(arg)}`);
  if (/^[A-Za-z0-9_\-.,:=@%/+]+$/.test(arg)) return arg;
  return `"${arg.replace(/[\\"$]/g, (char) => `\\${char}`)}"`;
}

// ---------------------------------------------------------------------------------------------------
// Where a server's socket lives (to watch for a server appearing)

/** The socket path tmux uses for `server`: `$TMUX_TMPDIR/tmux-UID/NAME`, `$TMUX`'s for the default server. */
export function socketPath(server: TmuxServer, env: NodeJS.ProcessEnv = process.env): string {
  if (server === null && env['TMUX']) {
    const fromTmux = env['TMUX'].split(',')[0];
    if (fromTmux) return fromTmux;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(env['TMUX_TMPDIR'] || '/tmp', `tmux-${uid}`, server ?? 'default');
}

// ---------------------------------------------------------------------------------------------------
// The client

export interface ControlOptions extends TmuxOptions {
  /** The session to attach to (created if missing, destroyed when its last client leaves). */
  readonly session?: string;
  /** How long close() waits for a clean exit before signalling (default 2 s). */
  readonly closeTimeoutMs?: number;
  /** How long a command may take before its promise rejects (default 10 s). */
  readonly commandTimeoutMs?: number;
}

export type ConnectResult =
  | { readonly state: 'connected'; readonly client: ControlClient }
  /**
   * `refused`: the server runs, but the control client started for it did not last (tmux refused or ended
   * it): control mode itself is failing there. Otherwise there is nothing to attach to (no server, or
   * nothing but our session).
   */
  | { readonly state: 'unavailable'; readonly reason: string; readonly refused?: boolean };

/** `tmux -V` → [major, minor] (`3.3a` → [3, 3]; `next-3.6`, `master` → the future); undefined when unreadable. */
export function parseTmuxVersion(text: string): readonly [number, number] | undefined {
  const trimmed = text.trim();
  if (/^tmux (master|next-)/.test(trimmed)) return [Number.MAX_SAFE_INTEGER, 0];
  const match = /^tmux (?:openbsd-)?(\d+)\.(\d+)/.exec(trimmed);
  if (!match) return undefined;
  // OpenBSD's own tmux (openbsd-7.x) follows the current release.
  return trimmed.startsWith('tmux openbsd-') ? [Number.MAX_SAFE_INTEGER, 0] : [Number(match[1]), Number(match[2])];
}

/** The client flags to attach with, by tmux version: read-only and silent from 3.2 on, none before (unknown flags fail the attach). */
const attachFlagsByBin = new Map<string, Promise<readonly string[]>>();
function attachFlags(options: TmuxOptions): Promise<readonly string[]> {
  const bin = options.bin ?? 'tmux';
  let flags = attachFlagsByBin.get(bin);
  if (!flags) {
    flags = runTmux(null, ['-V'], options).then((result) => {
      const version = result.exitCode === 0 ? parseTmuxVersion(result.stdout) : undefined;
      return version && (version[0] > 3 || (version[0] === 3 && version[1] >= 2)) ? ['-f', 'read-only,no-output,ignore-size'] : [];
    });
    attachFlagsByBin.set(bin, flags);
  }
  return flags;
}

/**
 * Removes our session when no live client is attached to it: what a client that went away without its close()
 * (refused, exited at once, killed) leaves behind. A client whose process has exited may still be counted as
 * attached for a moment (the server has not read its exit yet), so clients are judged by their pids; one still
 * alive belongs to another mam and keeps the session. Never starts a server (list-clients and kill-session do not).
 */
export async function removeIdleMonitorSession(server: TmuxServer, options: ControlOptions = {}): Promise<void> {
  const session = options.session ?? MONITOR_SESSION;
  const clients = await runTmux(server, ['list-clients', '-t', `=${session}`, '-F', '#{client_pid}'], options);
  if (clients.exitCode !== 0) return; // no such session, or no server
  const live = clients.stdout.split('\n').filter((line) => line !== '' && processAlive(Number(line)));
  if (live.length === 0) await killSession(server, session, options);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true; // unreadable: assume someone is there
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Pending {
  readonly command: string;
  settled: boolean;
  resolve(lines: string[]): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/** How many commands the client is started with (see the constructor): each answers with a flags-0 block. */
const STARTUP_COMMANDS = 1;

const live = new Set<ChildProcessWithoutNullStreams>();
let exitHookInstalled = false;

function track(child: ChildProcessWithoutNullStreams): void {
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort when the process exits without close(): a signal is all 'exit' allows (no awaiting).
    process.on('exit', () => {
      for (const survivor of live) survivor.kill('SIGTERM');
    });
  }
}

/**
 * Connects to a running server, or reports why not. Never starts a server: no server, or one with no
 * session besides the monitor's, is `unavailable` (a server kept alive by our session alone would never
 * exit on its own).
 */
export async function connectControl(server: TmuxServer, options: ControlOptions = {}): Promise<ConnectResult> {
  const session = options.session ?? MONITOR_SESSION;
  const listed = await runTmux(server, ['list-sessions', '-F', '#{session_attached} #{session_name}'], options);
  if (listed.exitCode !== 0) {
    return { state: 'unavailable', reason: listed.stderr.trim().split('\n', 1)[0] || `tmux exited with ${listed.exitCode}` };
  }
  const sessions = listed.stdout.split('\n').filter((line) => line !== '');
  if (!sessions.some((line) => !line.endsWith(` ${session}`))) {
    // Only ours: a leftover from a client that died without closing (attached 0) would keep the server
    // alive forever; remove it. One still in use (attached) is left to its client, which releases it.
    if (sessions.includes(`0 ${session}`)) await killSession(server, session, options);
    return { state: 'unavailable', reason: `no sessions besides ${session}` };
  }
  const flags = await attachFlags(options);
  const client = new ControlClient(server, { ...options, attachFlags: flags });
  try {
    // Before 3.2 the flags cannot be given at attach time; this is also the first round trip either way.
    if (flags.length === 0) await client.command(['refresh-client', '-f', 'no-output,ignore-size']);
    // The server could have exited between the check and the attach, and `new-session` then started a
    // fresh one holding only our session: leave it (close() kills our session), and it exits again.
    if ((await client.otherSessions()).length === 0) {
      await client.close();
      return { state: 'unavailable', reason: `no sessions besides ${session}` };
    }
  } catch (error) {
    const reason = client.exitReason ?? (error instanceof Error ? error.message : String(error));
    await client.close();
    await removeIdleMonitorSession(server, options);
    // Gone with the server (it exited meanwhile) is not a refusal; alive and still refusing us is.
    const alive = (await runTmux(server, ['list-sessions', '-F', '#{session_name}'], options)).exitCode === 0;
    return { state: 'unavailable', reason, refused: alive };
  }
  return { state: 'connected', client };
}

interface ClientOptions extends ControlOptions {
  /** Client flags for the attach (`-f …`), as connectControl found tmux supports them. */
  readonly attachFlags?: readonly string[];
}

export class ControlClient {
  readonly session: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly parser = new ControlParser();
  private readonly pending: Pending[] = [];
  private readonly listeners = new Set<(event: ControlEvent) => void>();
  private readonly commandTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private exitSaid: string | undefined;
  private startupError: string | undefined;
  private closing = false;
  /** Commands written before the client is attached would fail ("no current client"): held until then. */
  private held: string[] | undefined = [];
  private startupReplies = 0;
  private exitInfo: ControlExit | undefined;
  /** Resolves when the tmux client process has exited. */
  readonly exited: Promise<ControlExit>;

  /** Use connectControl(): this constructor attaches (and so would create a missing server). */
  constructor(readonly server: TmuxServer, private readonly options: ClientOptions = {}) {
    this.session = options.session ?? MONITOR_SESSION;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2_000;
    // `cat` on the pane's tty: a process that waits forever and reads no rc files.
    const args = [...serverArgs(server), '-C', 'new-session', '-A', ...(options.attachFlags ?? []), '-s', this.session, 'cat'];
    this.child = spawn(options.bin ?? 'tmux', args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    track(this.child);
    this.child.stdin.on('error', () => undefined); // EPIPE once the client is gone: exit handling covers it
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    let stderr = '';
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2_000);
    });
    this.exited = new Promise((resolve) => {
      const finish = (how: string): void => {
        if (this.exitInfo) return;
        live.delete(this.child);
        const reason = this.closing ? 'closed' : this.exitSaid || this.startupError || stderr.trim().split('\n', 1)[0] || how;
        this.exitInfo = { name: 'exit', reason, closedByUs: this.closing };
        for (const entry of this.pending.splice(0)) this.settle(entry, new ControlClosedError(server, reason));
        this.emit(this.exitInfo);
        resolve(this.exitInfo);
      };
      this.child.once('error', (error) => finish(`cannot run tmux: ${error.message}`));
      this.child.once('close', (code, signal) => finish(signal ? `tmux client killed by ${signal}` : `tmux client exited with ${code}`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isOpen(): boolean {
    return this.exitInfo === undefined && !this.closing;
  }

  /** Why the client is gone, once it is. */
  get exitReason(): string | undefined {
    return this.exitInfo?.reason ?? this.startupError;
  }

  /** Listens to notifications and the final `exit`; returns the unsubscribe function. */
  on(listener: (event: ControlEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs one tmux command over the connection; resolves with its output lines, rejects on `%error`. */
  command(args: readonly string[]): Promise<string[]> {
    if (!this.isOpen) return Promise.reject(new ControlClosedError(this.server, this.exitReason ?? 'closing'));
    return this.send(args);
  }

  private send(args: readonly string[], timeoutMs = this.commandTimeoutMs): Promise<string[]> {
    const text = args.map(quoteArg).join(' ');
    if (this.exitInfo) return Promise.reject(new ControlClosedError(this.server, this.exitInfo.reason));
    return new Promise((resolve, reject) => {
      const entry: Pending = { command: args[0] ?? '', settled: false, resolve, reject };
      entry.timer = setTimeout(() => this.settle(entry, new Error(`tmux ${entry.command}: no reply within ${timeoutMs} ms`)), timeoutMs);
      entry.timer.unref();
      this.pending.push(entry);
      if (this.held) this.held.push(`${text}\n`);
      else this.child.stdin.write(`${text}\n`);
    });
  }

  /** The server's sessions other than the monitor's own. */
  async otherSessions(): Promise<string[]> {
    const names = await this.command(['list-sessions', '-F', '#{session_name}']);
    return names.filter((name) => name !== '' && name !== this.session);
  }

  /**
   * Kills the monitor session when this is its only client (the client is then told `%exit`), ends stdin
   * (tmux detaches the client cleanly) and waits for the process; SIGTERM, then SIGKILL, if it does not
   * go in time. Safe to call more than once.
   */
  async close(): Promise<void> {
    if (this.exitInfo) return;
    if (this.closing) return void (await this.exited);
    this.closing = true;
    let settled = false;
    if (!this.held) {
      try {
        const [attached] = await this.send(['display-message', '-p', '-t', `=${this.session}:`, '#{session_attached}'], 1_000);
        if (attached === '1') this.child.stdin.write(`kill-session -t ${quoteArg(`=${this.session}`)}\n`);
        settled = true; // killed in-band, or other clients are attached and it is theirs
      } catch {
        // Gone already, or not answering: ending stdin below is all there is left to do.
      }
    }
    this.child.stdin.end();
    if (!(await this.exitsWithin(this.closeTimeoutMs))) {
      this.child.kill('SIGTERM');
      if (!(await this.exitsWithin(1_000))) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    // Not attached yet, or not answering: whatever session this client made must not outlive it.
    if (!settled) await removeIdleMonitorSession(this.server, this.options).catch(() => undefined);
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  private onData(chunk: string): void {
    for (const item of this.parser.push(chunk)) {
      if (item.type === 'reply') {
        if (!item.fromClient) {
          // The start-up command: new-session -A (creates or attaches).
          if (!item.ok) this.startupError = item.lines.join(' ').trim() || 'tmux refused to attach';
          this.startupReplies += 1;
          if (item.ok && this.startupReplies >= STARTUP_COMMANDS) this.release();
          continue;
        }
        const entry = this.pending.shift();
        if (entry) this.settle(entry, item.ok ? item.lines.slice() : new TmuxCommandError(entry.command, item.lines));
        continue;
      }
      const { notification } = item;
      if (notification.name === 'session-changed') this.release(); // attached, whatever came before
      if (notification.name === 'exit') {
        // The process exit follows; `exit` is emitted then, once, with this reason.
        this.exitSaid = notification.args.join(' ') || 'tmux said %exit (server or monitor session gone)';
        continue;
      }
      this.emit(notification);
    }
  }

  private release(): void {
    const held = this.held;
    this.held = undefined;
    if (held?.length && !this.closing) this.child.stdin.write(held.join(''));
  }

  private settle(entry: Pending, outcome: string[] | Error): void {
    if (entry.settled) return;
    entry.settled = true;
    clearTimeout(entry.timer);
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome);
  }

  private emit(event: ControlEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own business.
      }
    }
  }
}
