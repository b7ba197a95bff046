import path from 'node:path';
import { attachPlan, runAttach, type AttachPlan } from '../lifecycle/attach.js';
import { newSessionServer, type LifecycleContext } from '../lifecycle/context.js';
import { capturePane } from '../tmux/session.js';
import { runTmux } from '../tmux/client.js';
import { errorMessage } from '../util/errors.js';
import type { FleetSnapshot } from './feed.js';
import { localRows, matchesFilter, orderRows, remoteRows, rowKey, trackSince, type FleetRow, type FleetState } from './fleet.js';
import { buildFrame, nextAgeChange, type Frame } from './frame.js';
import { initialView, pressKey, type Effect, type Message, type UiKey, type ViewState } from './view.js';

/**
 * The dashboard without a terminal: snapshots and keys in, frames out, effects carried out. It joins the pure parts
 * (./fleet.ts, ./view.ts, ./frame.ts) and tells its listener only when the frame's text or style changed — a burst
 * of snapshots that changes nothing on screen draws nothing. The clock redraws exactly when a shown age changes.
 * The ink shell (./app.ts) draws the frames and hands the terminal over for an attach.
 */
export interface DashboardOptions {
  readonly lifecycle: LifecycleContext;
  /** This machine's name, as other hosts see it over MQTT. */
  readonly host: string;
  readonly home: string;
  readonly cwd: string;
  readonly color: boolean;
  readonly size: () => { readonly columns: number; readonly rows: number };
  /** The create form's first values. */
  readonly defaults: { readonly agent: string; readonly workspace: string };
  /** Hands the terminal to `run` (an attach) and takes it back after. */
  readonly suspend: <T>(run: () => Promise<T>) => Promise<T>;
  /** Something changed that the feed should look at now (an action done). */
  readonly refresh: () => void;
  readonly quit: () => void;
}

export class Dashboard {
  private view: ViewState;
  private snapshot: FleetSnapshot | undefined;
  private rows: FleetRow[] = [];
  private tracked = new Map<string, { state: FleetState; since: number | undefined }>();
  private current: Frame;
  private currentKey = '';
  private listeners = new Set<(frame: Frame) => void>();
  private clock: NodeJS.Timeout | undefined;
  private readonly busy = new Set<string>();
  private closed = false;

  constructor(private readonly options: DashboardOptions) {
    this.view = initialView(options.defaults);
    this.current = this.compute();
    this.currentKey = JSON.stringify(this.current.lines);
  }

  get frame(): Frame {
    return this.current;
  }

  /** The rows as shown now: filtered, in needs-you-first order. */
  get shownRows(): readonly FleetRow[] {
    return orderRows(
      this.rows.filter((row) => matchesFilter(row, this.view.filter)),
      (row) => this.tracked.get(row.key)?.since,
    );
  }

  subscribe(listener: (frame: Frame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onSnapshot(snapshot: FleetSnapshot): void {
    this.snapshot = snapshot;
    this.rows = [...localRows(snapshot.report.sessions, snapshot.facts, this.options.host), ...remoteRows(snapshot.remote, this.options.host)];
    this.tracked = trackSince(this.tracked, this.rows, this.options.lifecycle.now());
    this.redraw();
  }

  /** A line for the person: a source down, an action's outcome. */
  say(text: string, tone: Message['tone'] = 'info'): void {
    this.view = { ...this.view, message: { text: oneLine(text), tone } };
    this.redraw();
  }

  key(key: UiKey): void {
    const result = pressKey(this.view, key, this.shownRows, this.current.page);
    this.view = result.view;
    this.redraw();
    if (result.effect) void this.carryOut(result.effect);
  }

  /** Recomputes the frame (after a resize, the clock, any change) and tells listeners if it changed. */
  redraw(): void {
    if (this.closed) return;
    const frame = this.compute();
    const key = JSON.stringify(frame.lines);
    this.current = frame;
    if (key !== this.currentKey) {
      this.currentKey = key;
      for (const listener of this.listeners) listener(frame);
    }
    this.scheduleClock();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.clock);
    this.listeners.clear();
  }

  private compute(): Frame {
    const { lifecycle } = this.options;
    const size = this.options.size();
    const rows = this.shownRows;
    const frame = buildFrame({
      rows,
      total: this.rows.length,
      since: (row) => this.tracked.get(row.key)?.since,
      view: this.view,
      now: lifecycle.now(),
      width: size.columns,
      height: size.rows,
      color: this.options.color,
      registry: lifecycle.registryFile,
      hosts: this.snapshot?.broker,
      home: this.options.home,
      loading: this.snapshot === undefined,
    });
    if (frame.scroll !== this.view.scroll) this.view = { ...this.view, scroll: frame.scroll };
    return frame;
  }

  private scheduleClock(): void {
    clearTimeout(this.clock);
    const shown = this.shownRows.slice(this.view.scroll, this.view.scroll + this.current.page);
    const wait = nextAgeChange(
      shown.map((row) => this.tracked.get(row.key)?.since),
      this.options.lifecycle.now(),
    );
    if (wait === undefined) return;
    this.clock = setTimeout(() => this.redraw(), wait + 5);
    this.clock.unref();
  }

  private async carryOut(effect: Effect): Promise<void> {
    if (effect.kind === 'quit') return this.options.quit();
    if (effect.kind === 'approval') return this.approvalDetail(effect.row);
    const name = effect.kind === 'create' ? (effect.name ?? '') : effect.row.name;
    if (name !== '' && this.busy.has(name)) return this.say(`${name}: an earlier action is still under way`, 'error');
    if (name !== '') this.busy.add(name);
    try {
      const done = await this.run(effect);
      if (done) this.say(done);
    } catch (error) {
      this.say(errorMessage(error), 'error');
    } finally {
      if (name !== '') this.busy.delete(name);
      this.options.refresh();
    }
  }

  /** Runs one action; resolves the line to show when it is done. */
  private async run(effect: Exclude<Effect, { kind: 'quit' | 'approval' }>): Promise<string | undefined> {
    const lifecycle = { ...this.options.lifecycle, say: (line: string) => this.say(line) };
    switch (effect.kind) {
      case 'attach': {
        const plan = await attachPlan(lifecycle, effect.row.name);
        return this.attach(plan);
      }
      case 'stop': {
        const { stopSession } = await import('../lifecycle/stop.js');
        const outcome = await stopSession(lifecycle, { session: effect.row.name, reason: 'stopped from mam ui', purge: false, yes: false, forceNoYaml: false, server: null });
        if (outcome.kind === 'already') return `${effect.row.name}: ${outcome.message}`;
        return `stopped ${effect.row.name} (${outcome.rung}); r resumes it`;
      }
      case 'resume': {
        const { resumeSession } = await import('../lifecycle/resume.js');
        const result = await resumeSession(lifecycle, effect.row.name);
        return `${effect.row.name}: ${result.note}`;
      }
      case 'delete': {
        const { deleteSession, historyFile } = await import('../lifecycle/delete.js');
        await deleteSession(lifecycle, effect.row.name);
        return `deleted ${effect.row.name} (recorded in ${historyFile(lifecycle.registryFile)})`;
      }
      case 'create': {
        const { createSession } = await import('../lifecycle/create.js');
        const result = await createSession(lifecycle, {
          agent: effect.agent,
          workspace: path.resolve(this.options.cwd, effect.workspace),
          name: effect.name,
          server: newSessionServer(undefined, lifecycle.env),
          agentArgs: [],
          submitJob: undefined,
        });
        this.view = { ...this.view, selected: rowKey(this.options.host, result.entry.name) };
        return `created ${result.entry.name}; Enter attaches`;
      }
    }
  }

  private async attach(plan: AttachPlan): Promise<string | undefined> {
    const bin = this.options.lifecycle.tmux.bin;
    if (plan.mode === 'switch') {
      // This client moves; the dashboard keeps its pane and the terminal. tmux's own words if it refuses.
      const result = await runTmux(plan.server, plan.args, { bin, env: plan.env });
      if (result.exitCode !== 0) throw new Error(`tmux switch-client: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
      return `switched to ${plan.session} (prefix L comes back here)`;
    }
    const code = await this.options.suspend(() => runAttach(plan, bin));
    return code === 0 ? `back from ${plan.session}` : `tmux attach to ${plan.session} exited with ${code}`;
  }

  private async approvalDetail(row: FleetRow): Promise<void> {
    if (!row.local || row.source !== 'pane' || row.state !== 'needs_approval') return;
    const entry = this.snapshot?.report.sessions.find((session) => session.name === row.name);
    const screen = await capturePane(entry?.tmux_server ?? null, row.name, 0, this.options.lifecycle.tmux);
    if (this.view.mode !== 'approval' || this.view.subject?.key !== row.key) return;
    const lines = (screen ?? '').split('\n').filter((line) => line.trim() !== '').slice(-12);
    this.view = { ...this.view, detail: lines.length > 0 ? lines : ['(the pane could not be read)'] };
    this.redraw();
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' — ');
}
