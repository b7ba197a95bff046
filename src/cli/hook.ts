import { DEFAULT_AGENT, statusDir } from '../config.js';
import { runHook } from '../facts/hook.js';
import { parseFlags, type Command } from './command.js';

export const hookCommand: Command = {
  help: `Usage: mam hook [--agent <agent>]

Reads one hook payload (JSON) on stdin and records what it means in the session's fact files under
\${MAM_STATUS_DIR:-~/.cache/mam/status}: working, needs_approval, waiting or limited (a usage limit), per agent
(main and subagents), with the work a finished turn left running in the background.
A SessionStart in a session mam started (MAM_SESSION set) also records the conversation id in the registry
(MAM_REGISTRY), which follows /clear and resumes that rotate it. Always exits 0; errors go to hook-errors.log,
including a payload over 64 MB or cut short, which is not recorded.

It never makes the agent wait long: it gives up silently after 2 s of silent stdin, 10 s for the payload,
5 s to record it, 2 s per lock. MAM_HOOK_TIMEOUT (seconds to record, default 5) scales all of them, for a
machine too loaded for these.
This is the Node hook: \`mam hooks install --node\` installs it (\`mam hooks --help\` lists the agents with hooks).
\`mam hooks install\` installs the fast hook instead, a shell script that leaves each payload for the status watcher
to record with this same derivation, and hands over to this one when no watcher may run (MAM_WATCH=0).
--agent defaults to ${DEFAULT_AGENT}.`,
  async run(context) {
    await runHook({ env: context.env, stdin: process.stdin, stderr: context.stderr, dir: statusDir(context.env), agent: agentFlag(context.argv) });
    return 0;
  },
};

/**
 * `--agent X`, the form every installed hook uses, read directly: util.parseArgs costs ~1 ms to load, on every
 * agent event. Anything else goes through parseFlags, for its usage errors.
 */
function agentFlag(argv: readonly string[]): string {
  if (argv.length === 0) return DEFAULT_AGENT;
  if (argv.length === 2 && argv[0] === '--agent' && argv[1] && !argv[1].startsWith('-')) return argv[1];
  return parseFlags('hook', argv, { agent: { type: 'string' } }).values.agent ?? DEFAULT_AGENT;
}
