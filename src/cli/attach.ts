import { parseArgs } from 'node:util';
import { lifecycleContext } from '../lifecycle/context.js';
import { attachPlan, runAttach } from '../lifecycle/attach.js';
import { UsageError } from '../util/errors.js';
import { writeLine, type Command } from './command.js';

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
    const { values, positionals } = parse(context.argv);
    const name = subject(values.session, positionals);
    const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: (line) => writeLine(context.stderr, line) });
    const plan = await attachPlan(lifecycle, name);
    return runAttach(plan, lifecycle.tmux.bin);
  },
};

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: { session: { type: 'string' }, registry: { type: 'string' } }, strict: true, allowPositionals: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    throw new UsageError(`attach: ${message}; a name that starts with "-" goes after --: \`mam attach -- -NAME\`; see \`mam attach --help\``);
  }
}

function subject(flag: string | undefined, positionals: readonly string[]): string {
  if (positionals.length > 1) throw new UsageError(`attach: one session name, not ${positionals.length} (${positionals.map((word) => JSON.stringify(word)).join(', ')})`);
  const [word] = positionals;
  if (word !== undefined && flag !== undefined && word !== flag) throw new UsageError(`attach: the session is given twice, as ${JSON.stringify(word)} and as --session ${JSON.stringify(flag)}; give it once`);
  const name = word ?? flag;
  if (!name) throw new UsageError('attach: which session? `mam attach NAME` (or --session NAME); `mam status` lists them');
  return name;
}
