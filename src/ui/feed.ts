import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { statusDir } from '../config.js';
import type { AgentFact } from '../facts/schema.js';
import { listStatusDir, readAgentFacts } from '../facts/store.js';
import { pendingApprovals, withPendingApprovals } from '../facts/pending-approval.js';
import type { LifecycleContext } from '../lifecycle/context.js';
import type { AgentStatusMessage, ReceivedStatus } from '../mqtt/status-message.js';
import { Controller } from '../reconcile/controller.js';
import { serversToObserve } from '../reconcile/observe.js';
import type { SubscribeLog } from '../reconcile/sources.js';
import { readRegistry } from '../registry/store.js';
import { sessionStatus, type StatusReport } from '../status/report.js';
import type { TmuxServer } from '../tmux/client.js';
import { errorMessage } from '../util/errors.js';
import { PANE_MIN_CAPTURE_GAP_MS } from '../watch/pane.js';
import { PaneSampler } from '../watch/pane-sampler.js';

/**
 * What the dashboard shows, kept current by push (docs/ui.md, 'How updates arrive'): the one controller loop
 * (src/reconcile/controller.ts) with its tmux control-mode clients on every server the registry names, plus
 * directory watches on the registry and the status directory (hooks' fact files) that enqueue into it. Each run of
 * its queue reads the status report once and hands a snapshot on. The controller's resync (30 s, the monitor's
 * interval) is the only polling; sessions whose activity is read from the pane are sampled again when the pane
 * sampler may capture (every 2 s at most, its own back-off deciding what is captured). With $MAM_MQTT_URL set,
 * other hosts' retained status topics arrive over MQTT and are folded in as they come.
 */
export interface FleetSnapshot {
  readonly report: StatusReport;
  /** Each running session's agent facts, by session name. */
  readonly facts: ReadonlyMap<string, Readonly<Record<string, AgentFact>>>;
  /** Other hosts' sessions (and this host's own, which the dashboard drops), newest message each. */
  readonly remote: readonly AgentStatusMessage[];
  /** The broker listened to, without credentials, when there is one. */
  readonly broker: string | undefined;
}

export interface FeedOptions {
  readonly lifecycle: LifecycleContext;
  readonly onSnapshot: (snapshot: FleetSnapshot) => void;
  /** A source or a read failed: one line for the person. */
  readonly onProblem: (text: string) => void;
  /** The polling fallback (default 30 s, as the monitor). */
  readonly resyncMs?: number;
  /** Burst coalescing (default 20 ms) and the least time between two reads (default 200 ms). */
  readonly debounceMs?: number;
  readonly minGapMs?: number;
  /** Listen to other hosts over MQTT (default: when $MAM_MQTT_URL is set). */
  readonly mqtt?: boolean;
}

export class FleetFeed {
  private readonly controller: Controller;
  private readonly sampler: PaneSampler;
  private readonly watches: DirWatch[];
  private servers: readonly TmuxServer[] | undefined;
  private latest: Omit<FleetSnapshot, 'remote' | 'broker'> | undefined;
  private remote = new Map<string, AgentStatusMessage>();
  private broker: string | undefined;
  private mqtt: { close(): Promise<void> } | undefined;
  private paneTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: FeedOptions) {
    const { lifecycle } = options;
    this.sampler = new PaneSampler({ now: lifecycle.now, tmux: lifecycle.tmux });
    const log: SubscribeLog = { info: () => undefined, warn: (object, message) => options.onProblem(problemLine(object, message)) };
    this.controller = new Controller({
      reconcile: () => this.read(),
      servers: async () => {
        if (this.servers) return this.servers;
        const registry = await readRegistry(lifecycle.registryFile).catch(() => undefined);
        return registry ? serversToObserve(registry, []) : [];
      },
      sources: { tmux: { bin: lifecycle.tmux.bin, env: lifecycle.env } },
      resyncMs: options.resyncMs ?? 30_000,
      debounceMs: options.debounceMs ?? 20,
      minGapMs: options.minGapMs ?? 200,
      retryMaxMs: 5_000,
      onError: (error, retryInMs) => options.onProblem(`reading the fleet failed (${errorMessage(error)}); trying again in ${Math.round(retryInMs / 100) / 10} s`),
      log,
    });
    const registry = lifecycle.registryFile;
    this.watches = [
      new DirWatch(path.dirname(registry), (name) => name === path.basename(registry), () => this.controller.enqueue('registry')),
      // Fact files are replaced through dot-named temp files, and each session has a lock file: only the facts count.
      new DirWatch(statusDir(lifecycle.env), (name) => !name.startsWith('.') && name.endsWith('.json'), () => this.controller.enqueue('facts')),
    ];
  }

  async start(): Promise<void> {
    for (const watch of this.watches) watch.ensure();
    await this.controller.start();
    if (this.options.mqtt ?? Boolean(this.options.lifecycle.env['MAM_MQTT_URL'])) await this.listenToHosts();
  }

  /** Look now (after the dashboard changed something itself). */
  refresh(): void {
    this.controller.enqueue('action');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.paneTimer);
    for (const watch of this.watches) watch.close();
    await Promise.all([this.controller.stop(), this.mqtt?.close()]);
  }

  private async read(): Promise<void> {
    const { lifecycle } = this.options;
    const report = await sessionStatus(lifecycle, this.sampler);
    const dir = statusDir(lifecycle.env);
    const names = await listStatusDir(dir);
    const facts = new Map<string, Readonly<Record<string, AgentFact>>>();
    const approvals = pendingApprovals(dir);
    for (const row of report.sessions) {
      if (row.status !== 'running' || !row.conversation_id || names.length === 0) continue;
      facts.set(row.name, withPendingApprovals(await readAgentFacts(dir, row.conversation_id, names), approvals.get(row.conversation_id)));
    }
    this.servers = [...new Map(report.sessions.map((row) => [row.tmux_server ?? '', row.tmux_server])).values()];
    this.latest = { report, facts };
    for (const watch of this.watches) watch.ensure();
    this.schedulePaneLook(report);
    this.emit();
  }

  /** Sessions no hook reports for are read from their pane: look again once the sampler may capture. */
  private schedulePaneLook(report: StatusReport): void {
    if (this.paneTimer !== undefined || this.stopped) return;
    if (!report.sessions.some((row) => row.status === 'running' && row.tmux === 'alive' && row.activity_source !== 'hooks')) return;
    this.paneTimer = setTimeout(() => {
      this.paneTimer = undefined;
      this.controller.enqueue('panes');
    }, PANE_MIN_CAPTURE_GAP_MS);
    this.paneTimer.unref();
  }

  private emit(): void {
    if (!this.latest || this.stopped) return;
    this.options.onSnapshot({ ...this.latest, remote: [...this.remote.values()], broker: this.broker });
  }

  private async listenToHosts(): Promise<void> {
    const [{ connectClient }, { brokerOptionsFromEnv }, { foldStatus, parseStatusMessage, STATUS_TOPIC_FILTER }] = await Promise.all([
      import('../mqtt/connection.js'),
      import('../mqtt/options.js'),
      import('../mqtt/status-message.js'),
    ]);
    const { env } = this.options.lifecycle;
    const fold = (received: ReceivedStatus): void => {
      this.remote = foldStatus(this.remote, received);
      this.emit();
    };
    const client = connectClient({
      broker: brokerOptionsFromEnv(env),
      env,
      embedded: 'running',
      session: { kind: 'fresh', clientIdPrefix: 'mam-ui' },
      connectTimeoutMs: 5_000,
      keepaliveS: 30,
      reconnectMinMs: 1_000,
      reconnectMaxMs: 30_000,
      stuckEnd: 'end',
      hooks: {
        created: (mqtt) => mqtt.on('message', (topic, payload) => fold(parseStatusMessage(topic, payload))),
        connected: (mqtt) => {
          this.broker = client.display;
          // A new connection gets every retained status again: start from what it says.
          this.remote = new Map();
          mqtt.subscribe(STATUS_TOPIC_FILTER, { qos: 1 }, (error) => {
            if (error) this.options.onProblem(`${client.display}: subscribing to other hosts' status failed (${error.message})`);
          });
          this.emit();
        },
        down: (reason) => this.options.onProblem(`other hosts: ${reason}; retrying`),
      },
    });
    this.broker = client.display;
    this.mqtt = client;
  }
}

function problemLine(object: object, message: string): string {
  const server = (object as { tmux_server?: unknown }).tmux_server;
  return typeof server === 'string' ? `tmux ${server}: ${message}` : message;
}

/**
 * A directory watch that comes back. A directory that does not exist yet (no hook has run, no registry was
 * written) is waited for by watching its parent; failing that, the next read (the resync at the latest) tries again.
 */
class DirWatch {
  private watcher: FSWatcher | undefined;
  private parent: FSWatcher | undefined;

  constructor(
    private readonly dir: string,
    private readonly wanted: (name: string) => boolean,
    private readonly onChange: () => void,
  ) {}

  ensure(): void {
    if (this.watcher) return;
    this.watcher = tryWatch(this.dir, (name) => {
      if (name === null || this.wanted(name)) this.onChange();
    }, () => {
      this.watcher = undefined;
      this.onChange();
    });
    if (this.watcher) {
      this.parent?.close();
      this.parent = undefined;
      return;
    }
    this.parent ??= tryWatch(path.dirname(this.dir), (name) => {
      if (name !== null && name !== path.basename(this.dir)) return;
      this.ensure();
      if (this.watcher) this.onChange();
    }, () => (this.parent = undefined));
  }

  close(): void {
    this.watcher?.close();
    this.parent?.close();
    this.watcher = this.parent = undefined;
  }
}

function tryWatch(dir: string, onName: (name: string | null) => void, onError: () => void): FSWatcher | undefined {
  try {
    const watcher = watch(dir, { persistent: false }, (_event, name) => onName(name === null ? null : String(name)));
    watcher.on('error', () => {
      watcher.close();
      onError();
    });
    return watcher;
  } catch {
    return undefined;
  }
}
