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

export function startHookAgent(env: NodeJS.ProcessEnv, cwd: string, shellCommand?: string): HookAgent {
  const argv = shellCommand === undefined ? [process.execPath, MAM, 'hook'] : ['/bin/sh', '-c', shellCommand];
  // A payload is one JSON object a line, so it starts with `{`; a `run ` line is never one and is never parsed
  // otherwise (payloads over a megabyte go through untouched).
  const script = `
    const { spawn, spawnSync } = require('node:child_process');
    const argv = ${JSON.stringify(argv)};
    require('node:readline').createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
      if (line.startsWith('run ')) {
        const command = JSON.parse(line.slice(4));
        spawn(command[0], command.slice(1), { stdio: 'ignore' });
      } else spawnSync(argv[0], argv.slice(1), { input: line, stdio: ['pipe', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
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
