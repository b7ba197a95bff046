import { spawn, type ChildProcess } from 'node:child_process';
import { MAM } from './sandbox.js';

/**
 * A stand-in agent: a long-lived process that runs a hook as its own child once per payload, one after another, as
 * Claude does, so the hook records this process as the agent (its pid and start time) and — with `TMUX`/`TMUX_PANE`
 * in `env` — its pane. `hook` resolves once that hook call has exited. Kill `process` to make the agent die.
 * `run` starts a command under the agent without waiting for it (a tool call, a background shell) and resolves once
 * it has been started.
 *
 * The hook is `mam hook`, or `shellCommand` run through `/bin/sh -c` as agents run the command a settings file names
 * (e.g. the fast hook's `/bin/sh …/mam-hook.sh --agent claude --node …`).
 */
export interface HookAgent {
  readonly process: ChildProcess;
  hook(payload: Record<string, unknown>): Promise<void>;
  run(argv: readonly string[]): Promise<void>;
}

export function startHookAgent(env: NodeJS.ProcessEnv, cwd: string, shellCommand?: string | Readonly<Record<string, string>>): HookAgent {
  const argvOf = (command: string): string[] => ['/bin/sh', '-c', command];
  const byEvent = typeof shellCommand === 'object' ? Object.fromEntries(Object.entries(shellCommand).map(([event, command]) => [event, argvOf(command)])) : {};
  const fixed = shellCommand === undefined ? [process.execPath, MAM, 'hook'] : typeof shellCommand === 'string' ? argvOf(shellCommand) : undefined;
  // A payload is one JSON object a line, so it starts with `{`; a `run ` line is never one. With one command for every
  // event a payload is never parsed (payloads over a megabyte go through untouched); with one command per event it
  // is, for its hook_event_name.
  const script = `
    const { spawn, spawnSync } = require('node:child_process');
    const fixed = ${JSON.stringify(fixed ?? null)};
    const byEvent = ${JSON.stringify(byEvent)};
    require('node:readline').createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
      if (line.startsWith('run ')) {
        const command = JSON.parse(line.slice(4));
        spawn(command[0], command.slice(1), { stdio: 'ignore' });
      } else {
        const argv = fixed ?? byEvent[JSON.parse(line).hook_event_name];
        if (!argv) throw new Error('no hook command for ' + line);
        spawnSync(argv[0], argv.slice(1), { input: line, stdio: ['pipe', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
      }
      process.stdout.write('done\\n');
    });`;
  const agent = spawn(process.execPath, ['-e', script], { env, cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  const pending: (() => void)[] = [];
  agent.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (let count = chunk.split('done').length - 1; count > 0; count--) pending.shift()?.();
  });
  const send = (line: string): Promise<void> =>
    new Promise<void>((resolve) => {
      pending.push(resolve);
      agent.stdin!.write(`${line}\n`);
    });
  return {
    process: agent,
    hook: (payload) => send(JSON.stringify(payload)),
    run: (command) => send(`run ${JSON.stringify(command)}`),
  };
}
