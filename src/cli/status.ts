import { setTimeout as sleep } from 'node:timers/promises';
import { lifecycleContext } from '../lifecycle/context.js';
import { sessionStatus, statusTable } from '../status/report.js';
import { UsageError } from '../util/errors.js';
import { parseFlags, positiveSeconds, untilStopped, writeLine, type CliContext, type Command } from './command.js';

/** `mam status`: the fleet as one table (or JSON), once, redrawn, or from every host. Thin: the work is in status/. */

const say = (context: CliContext) => (line: string) => writeLine(context.stderr, line);

export const statusCommand: Command = {
  help: `Usage: mam status [--json] [--watch [--interval S]] [--registry PATH]
       mam status --all-hosts [--json]

One table of every registered session: name, agent, registry status, whether tmux has it now, conversation id,
age and workspace. TMUX shows GONE for a session registered as running whose tmux session is gone (the next
reconcile marks it terminated). --watch redraws in place every --interval seconds (default 2) until Ctrl-C.

--all-hosts shows every machine's agents that share the broker ($MAM_MQTT_URL, else a running embedded broker),
read from the retained topics mam/v1/<host>/agents/<session>/status: HOST SESSION AGENT ACTIVITY SINCE AGENTS
CWD, or {broker, sessions, invalid, complete} with --json. Messages that are not valid status are ignored and
counted. A broker that cannot be reached is an error (exit 1).`,
  async run(context) {
    const { values } = parseFlags('status', context.argv, { json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string' }, registry: { type: 'string' }, 'all-hosts': { type: 'boolean' } });
    if (values['all-hosts']) {
      if (values.watch || values.registry !== undefined) throw new UsageError('status: --all-hosts reads the broker, not a registry, and does not take --watch or --registry');
      const [{ allHostsTable, collectStatuses }, { brokerOptionsFromEnv }] = await Promise.all([import('../mqtt/all-hosts.js'), import('../mqtt/options.js')]);
      const report = await collectStatuses({ broker: brokerOptionsFromEnv(context.env), env: context.env });
      writeLine(context.stdout, values.json ? JSON.stringify(report) : allHostsTable(report, Date.now()));
      if (report.invalid > 0) writeLine(context.stderr, `mam: ignored ${report.invalid} message(s) on status topics that were not valid status`);
      if (!report.complete) writeLine(context.stderr, 'mam: messages were still arriving when the read timed out; the list may be incomplete');
      return 0;
    }
    const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: say(context) });
    if (!values.watch) {
      const report = await sessionStatus(lifecycle);
      writeLine(context.stdout, values.json ? JSON.stringify(report) : statusTable(report));
      return 0;
    }
    const intervalMs = Math.max(0.2, positiveSeconds('status', 'interval', values.interval, 2)) * 1000;
    // One sampler across redraws: pane readings get the monitor's idle debounce and capture rate limit.
    const { PaneSampler } = await import('../watch/pane-sampler.js');
    const panes = new PaneSampler({ now: Date.now, tmux: lifecycle.tmux });
    await untilStopped(async (signal) => {
      while (!signal.aborted) {
        const report = await sessionStatus(lifecycle, panes);
        const text = values.json ? JSON.stringify(report) : statusTable(report);
        // Home, draw, clear what is left below: redraws in place without flicker.
        writeLine(context.stdout, values.json ? text : `\x1b[H${text}\x1b[J\n${new Date().toLocaleTimeString()} — Ctrl-C to stop`);
        await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
      }
    });
    return 0;
  },
};
