import { setTimeout as sleep } from 'node:timers/promises';
import { statusDir } from '../config.js';
import { UsageError } from '../util/errors.js';
import { parseFlags, positiveSeconds, untilStopped, writeLine, type CliContext, type Command } from './command.js';

/**
 * `mam status`: the fleet as one table (or JSON), once, redrawn, or from every host; or the tmux status-line
 * segment. Thin: the work is in status/. Modules load per mode: `--tmux` runs every few seconds from tmux and
 * must not pay for the registry's (zod, yaml).
 */

const say = (context: CliContext) => (line: string) => writeLine(context.stderr, line);

export const statusCommand: Command = {
  help: `Usage: mam status [--json] [--watch [--interval S]] [--no-color] [--registry PATH]
       mam status --all-hosts [--json]
       mam status --tmux [--no-color]

One table of every registered session: name, agent, registry status, whether tmux has it now, activity,
conversation id, age and workspace. Sessions that need approval come first. TMUX shows GONE for a session
registered as running whose tmux session is gone (the next reconcile marks it terminated). On a terminal the
table is coloured (NEEDS APPROVAL red); NO_COLOR or --no-color turns that off.

--watch redraws the table in place every --interval seconds (default 2) until Ctrl-C, on the alternate screen,
cut to the terminal's width and redrawn at once when it is resized. When stdout is not a terminal the table is
printed once instead (a note on stderr says so); --watch --json prints one JSON report per interval.

--tmux prints the tmux status-line segment: ⚠ needs approval, ● working, ○ waiting, each with its count, in
tmux's #[fg=…] style syntax (plain with NO_COLOR or --no-color); nothing when no agent reports. It reads the file
the watcher keeps (<status dir>/tmux-status), else the fact files. For ~/.tmux.conf, see docs/status.md.

--all-hosts shows every machine's agents that share the broker ($MAM_MQTT_URL, else a running embedded broker),
read from the retained topics mam/v1/<host>/agents/<session>/status: HOST SESSION AGENT ACTIVITY SINCE AGENTS
CWD, or {broker, sessions, invalid, complete} with --json. Messages that are not valid status are ignored and
counted. A broker that cannot be reached is an error (exit 1).`,
  async run(context) {
    const { values } = parseFlags('status', context.argv, {
      json: { type: 'boolean' },
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      registry: { type: 'string' },
      'all-hosts': { type: 'boolean' },
      tmux: { type: 'boolean' },
      'no-color': { type: 'boolean' },
    });
    if (values.tmux) {
      const others = (['json', 'watch', 'interval', 'registry', 'all-hosts'] as const).filter((flag) => values[flag] !== undefined);
      if (others.length > 0) throw new UsageError(`status: --tmux prints the status-line segment of every agent on this machine and takes only --no-color, not ${others.map((flag) => `--${flag}`).join(', ')}`);
      const { currentSegment } = await import('../status/segment-file.js');
      const segment = await currentSegment(statusDir(context.env), !values['no-color'] && !context.env['NO_COLOR']);
      writeLine(context.stdout, segment.text);
      return 0;
    }
    if (values['all-hosts']) {
      if (values.watch || values.registry !== undefined) throw new UsageError('status: --all-hosts reads the broker, not a registry, and does not take --watch or --registry');
      const [{ allHostsTable, collectStatuses }, { brokerOptionsFromEnv }] = await Promise.all([import('../mqtt/all-hosts.js'), import('../mqtt/options.js')]);
      const report = await collectStatuses({ broker: brokerOptionsFromEnv(context.env), env: context.env });
      writeLine(context.stdout, values.json ? JSON.stringify(report) : allHostsTable(report, Date.now()));
      if (report.invalid > 0) writeLine(context.stderr, `mam: ignored ${report.invalid} message(s) on status topics that were not valid status`);
      if (!report.complete) writeLine(context.stderr, 'mam: messages were still arriving when the read timed out; the list may be incomplete');
      return 0;
    }
    const [{ lifecycleContext }, { sessionStatus, statusTable }, { colorWanted }, { isTerminal, watchScreen }] = await Promise.all([
      import('../lifecycle/context.js'),
      import('../status/report.js'),
      import('../status/terminal.js'),
      import('../status/watch-screen.js'),
    ]);
    const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: say(context) });
    const terminal = isTerminal(context.stdout);
    const color = colorWanted(context.env, terminal, values['no-color']);
    const intervalMs = values.watch ? Math.max(0.2, positiveSeconds('status', 'interval', values.interval, 2)) * 1000 : 0;
    if (!values.watch || (!values.json && !terminal)) {
      const report = await sessionStatus(lifecycle);
      writeLine(context.stdout, values.json ? JSON.stringify(report) : statusTable(report, { color }));
      if (values.watch) writeLine(context.stderr, 'mam status: --watch redraws a terminal and stdout is not one, so the table was printed once (--watch --json prints a report per interval)');
      return 0;
    }
    // One sampler across redraws: pane readings get the monitor's idle debounce and capture rate limit.
    const { PaneSampler } = await import('../watch/pane-sampler.js');
    const panes = new PaneSampler({ now: Date.now, tmux: lifecycle.tmux });
    const stdout = context.stdout;
    await untilStopped(async (signal) => {
      if (values.json || !isTerminal(stdout)) {
        while (!signal.aborted) {
          writeLine(stdout, JSON.stringify(await sessionStatus(lifecycle, panes)));
          await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
        }
        return;
      }
      await watchScreen({
        out: stdout,
        signal,
        intervalMs,
        read: async () => ({ lines: statusTable(await sessionStatus(lifecycle, panes), { color }).split('\n'), footer: `${new Date().toLocaleTimeString()} — Ctrl-C to stop` }),
      });
    });
    return 0;
  },
};
