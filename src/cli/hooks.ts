import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { claudeSettingsFile, hookCommand, installHooks, uninstallHooks, type Scope } from '../status/hooks-install.js';
import { parseFlags, writeLine, type Command } from './command.js';

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const HELP = `Usage: mam hooks install|uninstall [--scope user|project] [--project DIR] [--agent claude] [--json]

Merge \`mam hook --agent claude\` into Claude Code's settings.json for the events SessionStart, UserPromptSubmit,
PreToolUse, PermissionRequest, PostToolUse, PostToolUseFailure, Stop, StopFailure, SubagentStart, SubagentStop and
SessionEnd (matcher "*", timeout 10 s), each in its own matcher group. Your other hooks and settings are kept as they
are. Install is idempotent (it replaces mam's entries, e.g. after the CLI moved, and never adds them twice); uninstall
removes exactly mam's entries. A settings file that is not valid JSON is never written.
The command is \`mam hook --agent claude\` when \`mam\` is on PATH, else this node and this CLI's main.js by path.
Running Claude sessions pick up hook changes only after a restart.

Options:
  --scope user|project   user: $CLAUDE_CONFIG_DIR/settings.json or ~/.claude/settings.json (default);
                         project: <project>/.claude/settings.json
  --project DIR          the project for --scope project (default: the current directory)
  --agent claude         the agent whose settings to change (only claude for now)
  --json                 print {file, added, removed, unchanged} as JSON`;

const RESTART_NOTE = 'note: running Claude sessions pick up hook changes only after a restart';

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
    if (values.agent !== undefined && values.agent !== 'claude') throw new UsageError(`hooks ${sub}: --agent ${JSON.stringify(values.agent)} is not supported; only claude`);
    if (values.project !== undefined && scope !== 'project') throw new UsageError(`hooks ${sub}: --project needs --scope project`);
    const file = claudeSettingsFile(scope, context.env, path.resolve(context.cwd, values.project ?? '.'));
    const change = sub === 'install' ? await installHooks(file, hookCommand(context.env, CLI_MAIN)) : await uninstallHooks(file);
    if (values.json) {
      writeLine(context.stdout, JSON.stringify({ file, ...change }));
      return 0;
    }
    const plural = (count: number): string => `${count} hook${count === 1 ? '' : 's'}`;
    if (sub === 'install') {
      if (change.added === 0) writeLine(context.stdout, `already installed: ${plural(change.unchanged)} in ${file}`);
      else {
        const replaced = change.removed > 0 ? ` (replaced ${change.removed} old)` : '';
        writeLine(context.stdout, `installed ${plural(change.added)} in ${file}${replaced}`);
      }
    } else if (change.removed === 0) writeLine(context.stdout, `nothing to remove in ${file}`);
    else writeLine(context.stdout, `removed ${plural(change.removed)} from ${file}`);
    writeLine(context.stdout, RESTART_NOTE);
    return 0;
  },
};
