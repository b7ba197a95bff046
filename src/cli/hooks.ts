import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { AGENT_KINDS } from '../agents/index.js';
import { DEFAULT_AGENT } from '../config.js';
import { HOOK_TIMEOUT_SECONDS, hookAgents, hookCommandOf, hookReadiness, hookSettingsFile, hookTarget, isHookAgent, planInstall, planUninstall, type HookPlan, type Scope } from '../facts/hooks-install.js';
import { parseFlags, writeLine, type Command } from './command.js';

/** dist/cli/, where both hooks are built (scripts/bundle-hook.mjs): mam-hook.sh and hook.cjs. */
const CLI_DIR = fileURLToPath(new URL('../cli/', import.meta.url));

const wrap = (text: string, indent: string, width = 118): string => {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join(`\n${indent}`);
};

/** Each agent's lines come from its module's `hooks` (src/agents/<agent>.ts). */
function agentsHelp(): string {
  const indent = ' '.repeat(11);
  const withHooks = hookAgents().map((agent) => {
    const { hooks } = hookTarget(agent);
    return `  ${agent.padEnd(8)} ${wrap(hooks.help, indent)}\n${indent}${wrap(`events ${hooks.events.join(', ')}; timeout ${HOOK_TIMEOUT_SECONDS} s`, indent)}`;
  });
  const without = AGENT_KINDS.filter((kind) => !isHookAgent(kind.id)).map((kind) => kind.id);
  const none = without.length === 0 ? [] : [`  ${without.join(', ')} ${without.length === 1 ? 'has' : 'have'} no hook events mam reads; ${without.length === 1 ? 'its' : 'their'} status comes from the pane.`];
  return [...withHooks, '  all      every agent above', ...none].join('\n');
}

const HELP = `Usage: mam hooks install|uninstall [--agent ${[...hookAgents(), 'all'].join('|')}] [--scope user|project] [--project DIR] [--node] [--json]

Merge mam's hook into the agent's hook settings, one group per event, so that \`mam status\` shows each session as
working / needs approval / waiting. Your other hooks and settings are kept as they are. Install is idempotent (it
replaces mam's entries, e.g. after the CLI moved or to switch form, and never adds them twice); uninstall removes
exactly mam's entries, keeps the file's indentation, and removes the file when mam's hooks were all it held. A
settings file that is not valid JSON is never written; with --agent all no file is written unless every one can be.
Running agents pick up hook changes only after a restart.

The hook is the fast one: \`/bin/sh <dist>/cli/mam-hook.sh --agent <agent> --node <this node>\`, a shell script
that leaves the payload in <status dir>/spool/ for the status watcher (\`mam watch\`, started on demand) and exits
without starting Node. --node installs the Node hook instead: \`mam-hook --agent <agent>\` (or this node and
dist/cli/hook.cjs by path when \`mam-hook\` is not on PATH), which records each event itself.

Agents (default: ${DEFAULT_AGENT}):
${agentsHelp()}

Options:
  --scope user|project   user (default) or the project's own settings file
  --project DIR          the project for --scope project (default: the current directory)
  --node                 install the Node hook (\`mam-hook\`) instead of the fast shell one
  --json                 print {agent, file, added, removed, unchanged} as one JSON line per agent`;

export const hooksCommand: Command = {
  help: HELP,
  subcommands: { install: HELP, uninstall: HELP },
  async run(context) {
    const [sub, ...rest] = context.argv;
    if (sub !== 'install' && sub !== 'uninstall') throw new UsageError('hooks: the subcommands are `install` and `uninstall`; see `mam hooks --help`');
    const { values } = parseFlags(`hooks ${sub}`, rest, {
      scope: { type: 'string' },
      project: { type: 'string' },
      agent: { type: 'string' },
      node: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const scope = (values.scope ?? 'user') as Scope;
    if (scope !== 'user' && scope !== 'project') throw new UsageError(`hooks ${sub}: --scope is user or project, not ${JSON.stringify(values.scope)}`);
    // claude by default: that is what `mam hooks install` did before the other agents existed.
    const agent = values.agent ?? DEFAULT_AGENT;
    if (agent !== 'all' && !isHookAgent(agent)) throw new UsageError(`hooks ${sub}: --agent is ${hookAgents().join(', ')} or all, not ${JSON.stringify(agent)}`);
    if (values.project !== undefined && scope !== 'project') throw new UsageError(`hooks ${sub}: --project needs --scope project`);
    if (values.node && sub !== 'install') throw new UsageError('hooks uninstall: --node is for install (uninstall removes either form)');
    const agents: readonly string[] = agent === 'all' ? hookAgents() : [agent];
    const projectDir = path.resolve(context.cwd, values.project ?? '.');

    // Every file is read and checked first, so a malformed one stops the command before anything is written.
    const plans: HookPlan[] = [];
    for (const name of agents) {
      const target = hookTarget(name);
      const file = hookSettingsFile(target, scope, context.env, projectDir);
      plans.push(sub === 'install' ? await planInstall(target, file, hookCommandOf(values.node ? 'node' : 'fast', context.env, CLI_DIR, name)) : await planUninstall(target, file));
    }
    for (const plan of plans) await plan.apply();

    for (const { target, file, change, removesFile } of plans) {
      if (values.json) {
        writeLine(context.stdout, JSON.stringify({ agent: target.id, file, ...change }));
        continue;
      }
      const plural = (count: number): string => `${count} hook${count === 1 ? '' : 's'}`;
      if (sub === 'install') {
        if (change.added === 0) writeLine(context.stdout, `already installed: ${plural(change.unchanged)} in ${file}`);
        else writeLine(context.stdout, `installed ${plural(change.added)} in ${file}${change.removed > 0 ? ` (replaced ${change.removed} old)` : ''}`);
        for (const line of await hookReadiness(target, context.env)) writeLine(context.stdout, line);
      } else if (change.removed === 0) writeLine(context.stdout, `nothing to remove in ${file}`);
      else writeLine(context.stdout, `removed ${plural(change.removed)} from ${file}${removesFile ? ' (it held nothing else, so the file is gone)' : ''}`);
      writeLine(context.stdout, `note: running ${target.hooks.label} sessions pick up hook changes only after a restart`);
    }
    return 0;
  },
};
