import { agentKind } from '../agents/index.js';
import type { PanePatterns } from '../agents/types.js';
import { capturePanes } from '../tmux/capture.js';
import type { TmuxOptions, TmuxServer } from '../tmux/client.js';
import type { AgentStatus } from '../facts/schema.js';
import { NEW_PANE_TRACK, paneDue, stepPane, wantsPane, type PaneSample, type PaneTrack } from './pane.js';
import { serverKey } from '../tmux/client.js';

/**
 * The imperative shell around src/watch/pane.ts: keeps one track per session, captures only the panes
 * whose track says they are due (one tmux call per server), and folds the screens in. Whoever holds a
 * sampler calls `sample` as often as it likes — every monitor pass — and the tracks' rate limit and back-off
 * decide what is actually captured.
 */
export interface PaneTarget {
  /** The tmux session (= registry entry) name. */
  readonly session: string;
  readonly server: TmuxServer;
  readonly patterns: PanePatterns;
}

/**
 * The pane a registry entry should be read from, given what its hooks say (undefined: they said nothing): none
 * when the hooks answer for it, or when mam does not know its agent.
 */
export function paneTarget(entry: { readonly name: string; readonly agent: string; readonly tmux_server?: string | null | undefined }, hooks: AgentStatus | undefined): PaneTarget | undefined {
  const kind = agentKind(entry.agent);
  return kind && wantsPane(kind.panePatterns, hooks) ? { session: entry.name, server: entry.tmux_server ?? null, patterns: kind.panePatterns } : undefined;
}

export interface PaneReading {
  readonly status: AgentStatus | undefined;
  /** Epoch ms when `status` began. */
  readonly since: number | undefined;
}

/** Screens of `sessions` on `server`; undefined for one that could not be captured. */
export type CaptureScreens = (server: TmuxServer, sessions: readonly string[]) => Promise<ReadonlyMap<string, string | undefined>>;

export interface PaneSamplerOptions {
  readonly now: () => number;
  /** Default: capturePanes over the tmux CLI with `tmux`. */
  readonly capture?: CaptureScreens;
  readonly tmux?: TmuxOptions;
}

export class PaneSampler {
  private readonly tracks = new Map<string, PaneTrack>();
  private readonly capture: CaptureScreens;

  constructor(private readonly options: PaneSamplerOptions) {
    this.capture = options.capture ?? ((server, sessions) => capturePanes(server, sessions, options.tmux));
  }

  /**
   * Each target's status, by session name, after capturing those that are due. Tracks of sessions no
   * longer among the targets are dropped (they stopped, or hooks report for them now).
   */
  async sample(targets: readonly PaneTarget[]): Promise<Map<string, PaneReading>> {
    const now = this.options.now();
    const keyOf = (target: PaneTarget): string => `${serverKey(target.server)}\0${target.session}`;
    const wanted = new Set(targets.map(keyOf));
    for (const key of this.tracks.keys()) if (!wanted.has(key)) this.tracks.delete(key);

    const due = new Map<string, PaneTarget[]>();
    for (const target of targets) {
      if (!paneDue(this.tracks.get(keyOf(target)) ?? NEW_PANE_TRACK, now)) continue;
      const server = serverKey(target.server);
      due.set(server, [...(due.get(server) ?? []), target]);
    }
    const screens = new Map<string, string | undefined>();
    await Promise.all(
      [...due.values()].map(async (group) => {
        const captured = await this.capture(group[0]!.server, group.map((target) => target.session));
        for (const target of group) screens.set(keyOf(target), captured.get(target.session));
      }),
    );

    const readings = new Map<string, PaneReading>();
    for (const target of targets) {
      const key = keyOf(target);
      const screen = screens.get(key);
      const sample: PaneSample | undefined = !screens.has(key) ? undefined : screen === undefined ? 'gone' : { screen };
      const { track } = stepPane(this.tracks.get(key) ?? NEW_PANE_TRACK, target.patterns, sample, now);
      this.tracks.set(key, track);
      readings.set(target.session, { status: track.status, since: track.since });
    }
    return readings;
  }

  /** When the next capture is due (epoch ms), or undefined with nothing tracked: for a loop that sleeps until then. */
  nextCaptureAt(): number | undefined {
    let next: number | undefined;
    for (const track of this.tracks.values()) if (next === undefined || track.nextCaptureAt < next) next = track.nextCaptureAt;
    return next;
  }
}
