import { lifecycleContext } from '../lifecycle/context.js';
import { attachPlan, runAttach } from '../lifecycle/attach.js';
import { parseFlags, SESSION, subjectArg, writeLine, type Command } from './command.js';

/** `mam attach NAME`: a person's terminal on a registered session. Thin: the work is in lifecycle/attach.ts. */
export const attachCommand: Command = {
  help: `Usage: mam attach NAME [--registry PATH]
       mam attach --session NAME        mam attach -- -NAME (a name that starts with "-")

Put this terminal on a registered session's tmux screen. Inside tmux on the session's own server, this client
switches to it (tmux's switch-client; your previous session is one \`prefix L\` away). Anywhere else — outside
tmux, or inside tmux on another server — a tmux client attaches here (attach-session, nested when you are in tmux:
press the prefix twice to reach the inner one) and mam exits with its exit code once you detach (prefix d).
An unknown, stopped, ended or gone session is refused with what to do instead (\`mam resume NAME\`).`,
  async run(context) {
    const { values, positionals } = parseFlags('attach', context.argv, { session: { type: 'string' }, registry: { type: 'string' } }, { positionals: true });
    const name = subjectArg('attach', SESSION, values.session, positionals);
    const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: (line) => writeLine(context.stderr, line) });
    const plan = await attachPlan(lifecycle, name);
    return runAttach(plan, lifecycle.tmux.bin);
  },
};
