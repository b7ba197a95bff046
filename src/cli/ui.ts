import { parseFlags, type Command } from './command.js';

/** `mam ui`: the live dashboard. Thin: the work is in ui/, loaded only when it runs (React and ink are not small). */
export const uiCommand: Command = {
  help: `Usage: mam ui [--registry PATH]

A full-screen live dashboard of every registered session (and, with $MAM_MQTT_URL, other hosts' sessions): state
with colour and a symbol (NO_COLOR respected), how long in it, name, agent, workspace, job and host, needs-you-first
(needs approval, gone, dead, unknown, waiting, running, working, starting, stopped). Updates are pushed: tmux control
mode, the registry and the hooks' fact files, MQTT; a full re-read every 30 s is the only polling.

Keys: ↑↓/j k move · Enter attach (back here on detach) · n create · s stop · r resume · d delete (asks) · / filter ·
a the pending approval's tool and command · ? help · q quit. More in docs/ui.md.`,
  async run(context) {
    const { values } = parseFlags('ui', context.argv, { registry: { type: 'string' } });
    const { runDashboard } = await import('../ui/run.js');
    return runDashboard({ registry: values.registry, env: context.env, cwd: context.cwd, stdin: process.stdin, stdout: process.stdout });
  },
};
