import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { HOOK_AGENTS, hookCommand, hookTarget, isHookAgent, planInstall, planUninstall, type HookAgent, type HookPlan, type Scope } from '../facts/hooks-install.js';
import { parseFlags, writeLine, type Command } from './command.js';

/** The bundled hook entry beside this file (scripts/bundle-hook.mjs). */
const HOOK_ENTRY = fileURLToPath(new URL('./hook.cjs', import.meta.url));

const HELP = `Usage: mam hooks install|uninstall [--agent claude|codex|gemini|all] [--scope user|project] [--project DIR] [--json]

Merge \`mam hook --agent <agent>\` into the agent's hook settings, one group per event, so that \`mam status\`
shows each session as working / needs approval / waiting. Your other hooks and settings are kept as they are.
Install is idempotent (it replaces mam's entries, e.g. after the CLI moved, and never adds them twice); uninstall
removes exactly mam's entries, keeps the file's indentation, and removes the file when mam's hooks were all it
held. A settings file that is not valid JSON is never written; with --agent all no file is written unless every
one can be. The command is \`mam hook --agent <agent>\` when \`mam\` is on PATH, else this node and this CLI's
main.js by path. Running agents pick up hook changes only after a restart.

Agents (default: claude):
  claude   $CLAUDE_CONFIG_DIR/settings.json or ~/.claude/settings.json; project: <project>/.claude/settings.json
           events SessionStart, UserPromptSubmit, PreToolUse, PermissionRequest, PostToolUse, PostToolUseFailure,
           Stop, StopFailure, SubagentStart, SubagentStop, SessionEnd (matcher "*", timeout 10 s)
  codex    $CODEX_HOME/hooks.json or ~/.codex/hooks.json; project: <project>/.codex/hooks.json (Codex reads it
           for trusted projects). Events SessionStart, UserPromptSubmit, PreToolUse, PermissionRequest,
           PostToolUse, Stop, StopFailure, SubagentStart, SubagentStop. Codex runs hooks only with
           \`codex_hooks = true\` under [features] in config.toml; mam says so when it is missing.
  gemini   ~/.gemini/settings.json; project: <project>/.gemini/settings.json
           events SessionStart, SessionEnd, BeforeAgent, AfterAgent, BeforeTool, AfterTool, Notification
  all      the three above
  agy has no documented hook events; its status comes from its pane.

Options:
  --scope user|project   user (default) or the project's own settings file
  --project DIR          the project for --scope project (default: the current directory)
  --json                 print {agent, file, added, removed, unchanged} as one JSON line per agent`;

export const hooksCommand: Command = {
  help: HELP,
  async run(context) {
    const [sub, ...rest] = context.argv;
    if (sub !== 'install' && sub !== 'uninstall') throw new UsageError('hooks: the subcommands are `install` and `uninstall`; see `mam hooks --help`');
    const { values } = parseFlags(`hooks ${sub}`, rest, {
      scope: { type: 'string' },
      project: { type: 'string' },
      agent: { type: 'string' },
      json: { type: 'boolean' },
    });
    const scope = (values.scope ?? 'user') as Scope;
    if (scope !== 'user' && scope !== 'project') throw new UsageError(`hooks ${sub}: --scope is user or project, not ${JSON.stringify(values.scope)}`);
    // claude by default: that is what `mam hooks install` did before the other agents existed.
    const agent = values.agent ?? 'claude';
    if (agent !== 'all' && !isHookAgent(agent)) throw new UsageError(`hooks ${sub}: --agent is ${HOOK_AGENTS.join(', ')} or all, not ${JSON.stringify(agent)}`);
    if (values.project !== undefined && scope !== 'project') throw new UsageError(`hooks ${sub}: --project needs --scope project`);
    const agents: readonly HookAgent[] = agent === 'all' ? HOOK_AGENTS : [agent];
    const projectDir = path.resolve(context.cwd, values.project ?? '.');

    // Every file is read and checked first, so a malformed one stops the command before anything is written.
    const plans: HookPlan[] = [];
    for (const name of agents) {
      const target = hookTarget(name);
      const file = target.settingsFile(scope, context.env, projectDir);
      plans.push(sub === 'install' ? await planInstall(target, file, hookCommand(context.env, HOOK_ENTRY, name)) : await planUninstall(target, file));
    }
    for (const plan of plans) await plan.apply();

    for (const { target, file, change, removesFile } of plans) {
      if (values.json) {
        writeLine(context.stdout, JSON.stringify({ agent: target.agent, file, ...change }));
        continue;
      }
      const plural = (count: number): string => `${count} hook${count === 1 ? '' : 's'}`;
      if (sub === 'install') {
        if (change.added === 0) writeLine(context.stdout, `already installed: ${plural(change.unchanged)} in ${file}`);
        else writeLine(context.stdout, `installed ${plural(change.added)} in ${file}${change.removed > 0 ? ` (replaced ${change.removed} old)` : ''}`);
        for (const line of (await target.readiness?.(context.env)) ?? []) writeLine(context.stdout, line);
      } else if (change.removed === 0) writeLine(context.stdout, `nothing to remove in ${file}`);
      else writeLine(context.stdout, `removed ${plural(change.removed)} from ${file}${removesFile ? ' (it held nothing else, so the file is gone)' : ''}`);
      writeLine(context.stdout, `note: running ${target.label} sessions pick up hook changes only after a restart`);
    }
    return 0;
  },
};
