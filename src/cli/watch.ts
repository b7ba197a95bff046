import path from 'node:path';
import { hookTimeouts, notifySettings, statusDir, tmuxBin } from '../config.js';
import { createLogger } from '../util/log.js';
import { createStatusPublisher, publishOnChange } from '../mqtt/status-publisher.js';
import { createNotifier } from '../notify/notifier.js';
import { SegmentCache } from '../status/segment-file.js';
import { runWatcher } from '../watch/watcher.js';
import { autoResumer } from '../deliver/auto-resume.js';
import { pendingSpool, spoolDir } from '../facts/spool.js';
import { claimWatcher, releaseWatcher, runningWatcher } from '../facts/watcher-pid.js';
import { parseFlags, positiveSeconds, untilStopped, writeLine, type Command } from './command.js';

const DEFAULT_IDLE_EXIT_S = 60;

export const watchCommand: Command = {
  help: `Usage: mam watch [--idle-exit SECONDS] [--no-notify]

The status watcher. The hooks start it on demand (one per status directory); you rarely run it yourself.
It records the fast hook's payloads from <status dir>/spool/, in the order the hooks ran (docs/status.md,
'The fast hook'), and resolves what agents' hooks never report: a rejected or interrupted tool and Esc while the model streams
(from the transcript, read as JSON lines from where it left off), an approved permission dialog (the
command now running under the agent), Esc before the model's first token (the agent's pane, read only when
a turn has been silent for 3 s), an agent that died (its pid, checked with its start time), background work ending (the agent's live record, else
its process tree), and the reset of a usage limit an agent stopped on: with auto_resume in its registry entry it
types \`continue\` (auto_resume_text) into it once at that time.
It reacts to file changes within milliseconds and sweeps every second as a safety net.

  --idle-exit SECONDS   exit after this long with no session to watch and nothing spooled (default ${DEFAULT_IDLE_EXIT_S}, or MAM_WATCH_IDLE_EXIT)
  --no-notify           no notifications (as MAM_NOTIFY=off)

While it runs it keeps <status dir>/tmux-status, the tmux status-line segment (\`mam status --tmux\`), and announces,
once and debounced, an agent that starts waiting for approval: a desktop notification (notify-send, osascript) and
a message to the clients attached to the agent's tmux server and the default one. MAM_NOTIFY (off, or channels:
desktop,tmux) and MAM_NOTIFY_EVENTS (approval,done,died, or all) choose; see docs/status.md, 'Notifications'.

Every status change is published, retained, on mam/v1/<host>/agents/<session>/status (MAM_MQTT_URL, or the
embedded broker while it runs); \`mam status --all-hosts\` reads them. Logs go to MAM_LOG_FILE, by default
<status dir>/watch.log. Exits 0.`,
  async run(context) {
    const { values } = parseFlags('watch', context.argv, { 'idle-exit': { type: 'string' }, 'no-notify': { type: 'boolean' } });
    const idleExit = positiveSeconds('watch', 'idle-exit', values['idle-exit'] ?? context.env['MAM_WATCH_IDLE_EXIT'], DEFAULT_IDLE_EXIT_S);
    const dir = statusDir(context.env);
    if (!claimWatcher(dir)) {
      writeLine(context.stderr, `mam watch: a watcher is already running for ${dir} (pid ${runningWatcher(dir)?.pid ?? '?'})`);
      return 0;
    }
    const log = createLogger({ ...context.env, MAM_LOG_FILE: context.env['MAM_LOG_FILE'] || path.join(dir, 'watch.log') }, 'mam-watch');
    // Every change is also the retained topic mam/v1/<host>/agents/<session>/status. With no broker configured
    // it goes to the embedded broker only while one runs: a status watcher alone never starts a broker.
    const publisher = createStatusPublisher({ env: context.env, dir, startEmbeddedBroker: false, log: (line) => log.info(line) });
    const publish = publishOnChange(publisher);
    const segment = new SegmentCache({ dir, warn: (message, error) => log.warn({ err: error }, message) });
    const settings = notifySettings(context.env, values['no-notify']);
    for (const problem of settings.problems) {
      log.warn(problem);
      writeLine(context.stderr, `mam watch: ${problem}`);
    }
    const notifier = createNotifier({ settings, env: context.env, log, tmuxBin: tmuxBin(context.env) });
    try {
      const outcome = await untilStopped((signal) =>
        runWatcher({
          dir,
          log,
          idleExitMs: idleExit * 1000,
          sweepMs: 1_000,
          approvalPollMs: 250,
          tmuxBin: tmuxBin(context.env),
          autoResume: autoResumer({ tmuxBin: tmuxBin(context.env), env: context.env }),
          signal,
          hookLockMs: hookTimeouts(context.env).lockMs,
          mayExitIdle: () => {
            releaseWatcher(dir);
            return pendingSpool(spoolDir(dir)).length === 0 || !claimWatcher(dir);
          },
          onChange: (sessionId, facts, ending) => {
            segment.change(sessionId, facts);
            notifier?.change(sessionId, facts, ending);
            return publish(sessionId, facts);
          },
          onReady: (live) => {
            segment.ready(live);
            return publisher.sweep(live);
          },
        }),
      );
      log.info({ outcome }, outcome === 'idle' ? `nothing to watch for ${idleExit} s: exiting` : 'stopped');
      await Promise.all([publisher.flush(2_000), notifier?.close(2_000)]);
      return 0;
    } finally {
      segment.close();
      await notifier?.close(0);
      await publisher.close();
      releaseWatcher(dir);
    }
  },
};
