import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { connectControl, removeIdleMonitorSession, socketPath, type ControlClient, type ControlEvent } from '../tmux/control.js';
import { runTmux, serverKey, serverLabel, type TmuxServer } from '../tmux/client.js';
import { errorMessage } from '../util/errors.js';

/**
 * What tells the controller (./controller.ts) to look: tmux control-mode clients on every observed server,
 * and any other event source (job events), kept started with retries. A source only ever says "look now";
 * what changed is for the pass to find out.
 */
export interface EventSource {
  /** Starts delivering keys; rejects when the source cannot be reached (it is retried). */
  start(onKey: (key: string) => void): Promise<void>;
  stop(): Promise<void>;
  /**
   * False while it cannot deliver (a broker down): the resync is then the only trigger. A source that
   * may have missed events while away should call onKey once it is back.
   */
  readonly available: boolean;
}

export interface TmuxSourceSettings {
  readonly bin?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** First retry delay for a server that is not there (default 100 ms; doubles). */
  readonly retryBaseMs?: number;
  /** Cap on that delay (default 5 s). */
  readonly retryMaxMs?: number;
  /** Watch the socket directories to connect the moment a server starts (default true). */
  readonly watchSockets?: boolean;
  /** First retry delay after control mode failed on a running server (default 1 s; doubles). */
  readonly refusedRetryBaseMs?: number;
  /** Quick failures in a row after which control mode is left alone for `refusedPauseMs` (default 3). */
  readonly maxQuickFailures?: number;
  /** How long then (default 30 min; Infinity: for good). */
  readonly refusedPauseMs?: number;
  /** A control client that ends, not closed by us, sooner than this after attaching failed quickly (default 10 s). */
  readonly quickExitMs?: number;
}

export interface SubscribeLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

// ---------------------------------------------------------------------------------------------------
// tmux: one control-mode client per observed server

/** Notifications that may change what a pass sees. Renames of windows (frequent) and client moves do not. */
const RELEVANT = new Set([
  'sessions-changed',
  'session-renamed',
  'unlinked-window-add',
  'unlinked-window-close',
  'window-add',
  'window-close',
  'exit',
]);

/** How long an emptied server is left to the client that emptied it before our session lets the server go. */
const RELEASE_GRACE_MS = 250;

export interface TmuxSourceStatus {
  readonly server: TmuxServer;
  readonly connected: boolean;
  /** Why there is no connection, when there is none. */
  readonly reason?: string;
}

/**
 * Keeps a control-mode client on each of a changing set of tmux servers and turns their notifications
 * into `tmux:<server>` keys. Exported for `mam monitor`, which wakes its worker loop on them.
 */
export class TmuxWatcher {
  private readonly sources = new Map<string, ServerSource>();
  private readonly dirWatches = new Map<string, FSWatcher>();
  private stopped = false;

  constructor(
    private readonly onKey: (key: string) => void,
    private readonly settings: TmuxSourceSettings = {},
    private readonly log?: SubscribeLog,
  ) {}

  get status(): TmuxSourceStatus[] {
    return [...this.sources.values()].map((source) => source.status);
  }

  setServers(servers: readonly TmuxServer[]): void {
    if (this.stopped) return;
    const wanted = new Map(servers.map((server) => [serverKey(server), server]));
    for (const [key, source] of this.sources) {
      if (wanted.has(key)) continue;
      this.sources.delete(key);
      void source.stop();
    }
    for (const [key, server] of wanted) {
      if (this.sources.has(key)) continue;
      const source = new ServerSource(server, this.onKey, this.settings, this.log, () => this.watchSocketDir(server));
      this.sources.set(key, source);
      source.start();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const watcher of this.dirWatches.values()) watcher.close();
    this.dirWatches.clear();
    const sources = [...this.sources.values()];
    this.sources.clear();
    await Promise.all(sources.map((source) => source.stop()));
  }

  /**
   * Watches the directory of `server`'s socket, so a waiting source tries at once when a server starts
   * (tmux re-creates the socket file). Until that directory exists — no tmux server has run since boot —
   * its parent is watched for it instead.
   */
  private watchSocketDir(server: TmuxServer): void {
    if (this.stopped || this.settings.watchSockets === false) return;
    const directory = path.dirname(socketPath(server, this.settings.env ?? process.env));
    if (this.dirWatches.has(directory)) return;
    const parent = path.dirname(directory);
    if (this.tryWatch(directory, (name) => this.poke((source) => name === null || name === path.basename(this.socketOf(source))))) {
      this.dirWatches.get(parent)?.close();
      this.dirWatches.delete(parent);
      return;
    }
    if (this.dirWatches.has(parent)) return;
    this.tryWatch(parent, (name) => {
      if (name === null || name === path.basename(directory)) this.poke(() => true);
    });
  }

  private tryWatch(directory: string, onName: (name: string | null) => void): boolean {
    try {
      const watcher = watch(directory, { persistent: false }, (_event, name) => onName(name === null ? null : String(name)));
      watcher.on('error', () => {
        watcher.close();
        if (this.dirWatches.get(directory) === watcher) this.dirWatches.delete(directory);
      });
      this.dirWatches.set(directory, watcher);
      return true;
    } catch {
      return false;
    }
  }

  private socketOf(source: ServerSource): string {
    return socketPath(source.server, this.settings.env ?? process.env);
  }

  private poke(which: (source: ServerSource) => boolean): void {
    for (const source of this.sources.values()) if (which(source)) source.poke();
  }
}

class ServerSource {
  private client: ControlClient | undefined;
  /** `refused`: the server runs but control mode fails there; retried on its own schedule, not on socket events. */
  private state: 'idle' | 'connecting' | 'connected' | 'settling' | 'waiting' | 'refused' | 'stopped' = 'idle';
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private reason: string | undefined;
  private announcedDown = false;
  /** Control clients in a row that were refused or ended soon after attaching (server still up). */
  private quickFailures = 0;
  private announcedRefused = false;
  private connectedAt = 0;
  /** The judging of the last exit (and removal of what it left), awaited by stop(). */
  private settled: Promise<void> = Promise.resolve();
  private readonly key: string;

  constructor(
    readonly server: TmuxServer,
    private readonly onKey: (key: string) => void,
    private readonly settings: TmuxSourceSettings,
    private readonly log: SubscribeLog | undefined,
    private readonly watchSocket: () => void,
  ) {
    this.key = `tmux:${serverLabel(server)}`;
  }

  get status(): TmuxSourceStatus {
    return this.state === 'connected' ? { server: this.server, connected: true } : { server: this.server, connected: false, reason: this.reason ?? this.state };
  }

  start(): void {
    void this.attempt();
  }

  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  /** Something happened in the socket directory: if waiting, try now. */
  poke(): void {
    this.failures = 0;
    if (this.state !== 'waiting') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await Promise.all([client?.close(), this.settled]);
  }

  private async attempt(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'waiting') return;
    this.state = 'connecting';
    const result = await connectControl(this.server, { bin: this.settings.bin, env: this.settings.env }).catch((error: unknown) => ({
      state: 'unavailable' as const,
      reason: errorMessage(error),
      refused: false,
    }));
    if (this.isStopped()) {
      if (result.state === 'connected') await result.client.close();
      return;
    }
    if (result.state === 'unavailable' && result.refused) return this.controlFailed(result.reason);
    if (result.state === 'unavailable') {
      this.reason = result.reason;
      if (!this.announcedDown) {
        this.announcedDown = true;
        this.log?.info({ tmux_server: serverLabel(this.server), reason: result.reason }, 'no tmux push events from this server; polling it at the resync interval until it is back');
      }
      this.waitAndRetry();
      return;
    }
    const client = result.client;
    this.client = client;
    this.state = 'connected';
    this.connectedAt = Date.now();
    this.failures = 0;
    this.reason = undefined;
    this.announcedDown = false;
    this.log?.info({ tmux_server: serverLabel(this.server), client_pid: client.pid }, 'tmux control-mode client attached');
    client.on((event) => this.onEvent(client, event));
    if (!client.isOpen) return this.onEvent(client, { name: 'exit', reason: client.exitReason ?? 'gone', closedByUs: false });
    // Whatever happened while nobody was listening: look now.
    this.onKey(this.key);
  }

  private onEvent(client: ControlClient, event: ControlEvent): void {
    if (client !== this.client || !RELEVANT.has(event.name)) return;
    this.onKey(this.key);
    if (event.name === 'exit') {
      this.client = undefined;
      if (this.state === 'stopped') return;
      // Not 'waiting' yet: a socket-directory event (tmux touches the socket as clients come and go) must not
      // start another attempt before this exit is judged.
      this.state = 'settling';
      this.reason = 'reason' in event ? event.reason : 'exited';
      this.failures = 0;
      this.settled = this.afterExit(event.name === 'exit' && 'closedByUs' in event && event.closedByUs, this.reason);
      return;
    }
    if (event.name === 'sessions-changed') void this.releaseIfAlone(client);
  }

  /**
   * Our session alone would keep an otherwise empty server alive forever: let it go — after a moment. The
   * client whose command emptied the server (a person's `tmux kill-session`) is still waiting for its reply;
   * closing at once can make the server exit under it, and it prints "server exited unexpectedly".
   */
  private async releaseIfAlone(client: ControlClient): Promise<void> {
    try {
      if ((await client.otherSessions()).length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, RELEASE_GRACE_MS).unref());
      if (this.client === client && (await client.otherSessions()).length === 0) await client.close();
    } catch {
      // Closed meanwhile: the exit event handles it.
    }
  }

  /**
   * The client is gone. Ended soon after attaching, by tmux rather than by us, on a server that still runs:
   * control mode is failing there, and retrying at once would spin. Whatever ended it, a session it left
   * unattached is removed.
   */
  private async afterExit(closedByUs: boolean, reason: string): Promise<void> {
    const quick = !closedByUs && Date.now() - this.connectedAt < (this.settings.quickExitMs ?? 10_000);
    const options = { bin: this.settings.bin, env: this.settings.env };
    const alive = (await runTmux(this.server, ['list-sessions', '-F', '#{session_name}'], options)).exitCode === 0;
    if (alive) await removeIdleMonitorSession(this.server, options).catch(() => undefined);
    if (this.state !== 'settling') return; // stopped meanwhile
    if (quick && alive) return this.controlFailed(reason);
    if (!quick) {
      // It lasted: control mode works here. A later failure is news again.
      this.quickFailures = 0;
      this.announcedRefused = false;
    }
    this.waitAndRetry();
  }

  /** Control mode failed on a running server: say so once, back off, and after a few in a row, pause long. */
  private controlFailed(reason: string): void {
    this.quickFailures += 1;
    this.state = 'refused';
    this.reason = `tmux control mode failing: ${reason}`;
    const max = this.settings.maxQuickFailures ?? 3;
    const pauseMs = this.settings.refusedPauseMs ?? 30 * 60_000;
    if (!this.announcedRefused) {
      this.announcedRefused = true;
      this.log?.warn(
        { tmux_server: serverLabel(this.server), reason, retry: `backoff from ${this.settings.refusedRetryBaseMs ?? 1_000} ms; after ${max} quick failures in a row, every ${Math.round(pauseMs / 60_000)} min` },
        'tmux control mode does not work on this server; no push events from it, polling it at the resync interval',
      );
    }
    const delay = this.quickFailures >= max ? pauseMs : (this.settings.refusedRetryBaseMs ?? 1_000) * 2 ** (this.quickFailures - 1);
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!Number.isFinite(delay)) return; // for good
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state !== 'refused') return;
      this.state = 'waiting';
      void this.attempt();
    }, Math.min(delay, 2 ** 31 - 1));
    this.timer.unref();
  }

  private waitAndRetry(): void {
    this.state = 'waiting';
    this.watchSocket();
    const base = this.settings.retryBaseMs ?? 100;
    const delay = Math.min(this.settings.retryMaxMs ?? 5_000, base * 2 ** this.failures);
    this.failures += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, delay);
    this.timer.unref();
  }
}

// ---------------------------------------------------------------------------------------------------
// A generic event source, started with retries

/** Starts an EventSource and keeps retrying it (backoff up to `maxDelayMs`); also used by `mam monitor`. */
export class RetryingSource {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private started = false;

  constructor(
    private readonly source: EventSource,
    private readonly onKey: (key: string) => void,
    private readonly maxDelayMs: number,
    private readonly log: SubscribeLog | undefined,
  ) {}

  start(): void {
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.started) await this.source.stop().catch(() => undefined);
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.source.start(this.onKey);
      this.started = true;
      if (this.stopped) return void (await this.source.stop().catch(() => undefined));
      this.failures = 0;
      this.log?.info({}, 'job event source connected');
      // Events may have been missed before it was up.
      this.onKey('*');
    } catch (error) {
      const delay = Math.min(this.maxDelayMs, 500 * 2 ** this.failures);
      if (this.failures === 0) this.log?.warn({ err: errorMessage(error) }, 'job event source unavailable; polling at the resync interval and retrying');
      this.failures += 1;
      this.timer = setTimeout(() => void this.attempt(), delay);
      this.timer.unref();
    }
  }
}
