import { readRegistry } from '../registry/store.js';
import type { TmuxServer } from '../tmux/client.js';
import { runController, type ControllerSummary } from './controller.js';
import { serversToObserve } from './observe.js';
import { runPass, type PassOptions, type PassReport } from './pass.js';
import type { EventSource, SubscribeLog, TmuxSourceSettings } from './sources.js';

/**
 * `mam reconcile --subscribe`: the controller loop (./controller.ts) with a full, level-triggered `runPass` as its
 * worker. Keys: `tmux:<server>` for a control-mode notification, `job:<id>` for a job event, `registry` when the
 * file is rewritten by someone else, `resync` on the periodic timer (the polling fallback, every `resyncMs`,
 * ±10 % jitter, so a source that is down costs latency, never correctness).
 *
 * A tmux server that is not running (or runs nothing but our monitor session) is retried with backoff (100 ms
 * doubling to 5 s), and at once when its socket appears in the socket directory; a job source whose start()
 * throws is retried with backoff up to the resync period. A server that runs but will not keep a control client
 * (tmux refuses `-C`, or ends every `-C` client at once — tmux 3.6a answers each with `%exit` — or after a
 * moment) is said once, as a warning, and retried with a backoff of its own (1 s doubling); after 3 such quick
 * failures in a row control mode is left alone for 30 minutes at a time (./sources.ts).
 */

export interface SubscribeOptions {
  readonly passOptions: PassOptions;
  readonly sources?: {
    /** Control-mode clients for every observed tmux server (default on; `false` turns them off). */
    readonly tmux?: TmuxSourceSettings | false;
    /** Job events (MQTT, later): any key it reports triggers a pass. */
    readonly jobs?: EventSource;
    /** Passes when the registry file is rewritten by someone else (default on). */
    readonly registry?: boolean;
  };
  /** The full resync (= the polling fallback) period; default 30 s. */
  readonly resyncMs?: number;
  /** ± fraction of resyncMs (default 0.1). */
  readonly jitter?: number;
  /** Burst coalescing window (default 5 ms). */
  readonly debounceMs?: number;
  readonly onReport: (report: PassReport) => void;
  /** A pass failed (nothing was written); it is retried after `retryInMs`. */
  readonly onError?: (error: unknown, retryInMs: number) => void;
  /** Every key as it is enqueued (diagnostics; a monitor can wake on it). */
  readonly onKey?: (key: string) => void;
  readonly log?: SubscribeLog;
  readonly signal: AbortSignal;
}

export type SubscribeSummary = ControllerSummary;

export async function runSubscribed(options: SubscribeOptions): Promise<SubscribeSummary> {
  const { passOptions } = options;
  const resyncMs = options.resyncMs ?? 30_000;
  const tmux = options.sources?.tmux;
  return runController(
    {
      reconcile: async () => options.onReport(await runPass(passOptions)),
      servers: () => observedServers(passOptions).catch(() => [...passOptions.observe.extraServers]),
      sources: {
        tmux: tmux === false ? false : { bin: passOptions.observe.tmux.bin, env: passOptions.observe.tmux.env, ...tmux },
        ...(options.sources?.jobs ? { jobs: options.sources.jobs, jobsRetryMaxMs: Math.max(1_000, resyncMs) } : {}),
        ...(options.sources?.registry === false ? {} : { file: { path: passOptions.registryFile, key: 'registry' } }),
      },
      resyncMs,
      ...(options.jitter === undefined ? {} : { jitter: options.jitter }),
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
      retryMaxMs: Math.min(5_000, resyncMs),
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.onKey ? { onKey: options.onKey } : {}),
      ...(options.log ? { log: options.log } : {}),
    },
    options.signal,
  );
}

/** The servers a pass looks at: the registry's own plus the extra ones (`--tmux-server`). */
export async function observedServers(options: PassOptions): Promise<TmuxServer[]> {
  const registry = await (options.reader ? options.reader.read(options.registryFile) : readRegistry(options.registryFile));
  return serversToObserve(registry, options.observe.extraServers);
}

