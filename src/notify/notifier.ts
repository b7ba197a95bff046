import type { NotifySettings } from '../config.js';
import { sessionStatus, type Facts } from '../facts/derive.js';
import { defaultSocket, displayOnClients } from '../tmux/message.js';
import { desktopCommand, sendDesktop } from './desktop.js';
import { approvalDetail, notificationText, sessionName } from './message.js';
import { DEFAULT_TIMING, INITIAL_STATE, step, type Announcement, type NotifyPolicy, type PolicyState, type StatusChange } from './policy.js';

/**
 * The watcher's notifications (docs/status.md, 'Notifications'): every status change the watcher sees goes in,
 * policy.ts decides what is announced and when, and this sends it — to the desktop and to the clients attached to
 * the agents' tmux servers and to the default one. The watcher is one process per status directory (watch.pid), so
 * each change is announced by exactly one process. Never throws and never makes the watcher wait: sends run one
 * after another in the background, each bounded by a timeout, and a failing channel is logged once per reason.
 */
export interface NotifierLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface NotifierOptions {
  readonly settings: NotifySettings;
  readonly env: NodeJS.ProcessEnv;
  readonly log: NotifierLog;
  readonly tmuxBin?: string;
  readonly platform?: NodeJS.Platform;
  readonly timing?: Partial<Pick<NotifyPolicy, 'settleMs' | 'rearmMs' | 'minGapMs'>>;
  readonly now?: () => number;
}

export interface Notifier {
  /** The watcher's onChange: new facts, or the session ended (`ended`) or its agent died (`died`). */
  change(sessionId: string, facts: Facts | undefined, ending?: 'ended' | 'died'): void;
  /** Sends what is still pending at once (the watcher is going), then waits at most `timeoutMs` for the sends. */
  close(timeoutMs: number): Promise<void>;
}

/** Undefined when no channel is on: nothing to decide, nothing to send. */
export function createNotifier(options: NotifierOptions): Notifier | undefined {
  const { settings, log } = options;
  if (settings.channels.size === 0 || settings.events.size === 0) return undefined;
  const policy: NotifyPolicy = { ...DEFAULT_TIMING, ...options.timing, events: settings.events };
  const now = options.now ?? Date.now;
  const platform = options.platform ?? process.platform;
  const names = new Map<string, { name: string; socket: string | null }>();
  const reported = new Set<string>();
  let state: PolicyState = INITIAL_STATE;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;

  const problem = (channel: string, error: unknown): void => {
    const reason = `${channel}: ${(error as Error).message ?? String(error)}`;
    if (reported.has(reason)) return;
    reported.add(reason);
    log.warn({ channel }, `notification not delivered (${reason}); logged once`);
  };

  const send = (batch: readonly Announcement[]): void => {
    const text = notificationText(batch);
    const sockets = [...new Set([...batch.flatMap((item) => (item.socket ? [item.socket] : [])), defaultSocket(options.env)])];
    log.info({ sessions: batch.map((item) => item.session), events: batch.map((item) => item.event) }, text.line);
    chain = chain.then(async () => {
      const sends: Promise<unknown>[] = [];
      if (settings.channels.has('desktop')) sends.push(sendDesktop(desktopCommand(platform, text.title, text.body), options.env).catch((error: unknown) => problem('desktop', error)));
      if (settings.channels.has('tmux')) {
        for (const socket of sockets) sends.push(displayOnClients(socket, text.line, options.tmuxBin === undefined ? {} : { bin: options.tmuxBin }).catch((error: unknown) => problem('tmux', error)));
      }
      await Promise.all(sends);
    });
  };

  const run = (change: StatusChange | undefined): void => {
    if (closed) return;
    const result = step(state, change, now(), policy);
    state = result.state;
    if (result.send.length > 0) send(result.send);
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (result.wakeAt !== undefined) {
      timer = setTimeout(() => run(undefined), Math.max(0, result.wakeAt - now()));
      // The watcher's own loop keeps the process alive; a pending notification must not hold an idle exit.
      timer.unref();
    }
  };

  return {
    change(sessionId, facts, ending) {
      try {
        if (!facts || ending) {
          const known = names.get(sessionId);
          // Never seen alive by this watcher (it died while none ran): old news, not announced.
          if (!known) return;
          names.delete(sessionId);
          run({ session: sessionId, status: ending ?? 'ended', name: known.name, detail: null, socket: known.socket });
          return;
        }
        const status = sessionStatus(facts.agents);
        if (!status) return;
        const socket = facts.session?.pane?.socket ?? null;
        const name = sessionName(sessionId, facts);
        names.set(sessionId, { name, socket });
        run({ session: sessionId, status, name, detail: status === 'needs_approval' ? approvalDetail(facts) : null, socket });
      } catch (error) {
        problem('policy', error);
      }
    },
    async close(timeoutMs) {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      // A death announced as the last session went must not be lost to the idle exit that follows it.
      if (state.pending.length > 0) send(state.pending.map(({ dueAt: _dueAt, ...announcement }) => announcement));
      state = { ...state, pending: [] };
      await Promise.race([chain, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    },
  };
}
