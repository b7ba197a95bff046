import { spawn, type ChildProcess } from 'node:child_process';
import { MAM } from './sandbox.js';

/**
 * A stand-in agent: a long-lived process that runs `mam hook` as its own child once per payload, as Claude does, so
 * the hook records this process as the agent (its pid and start time) and — with `TMUX`/`TMUX_PANE` in `env` — its
 * pane. `hook` resolves once that hook call has exited. Kill `process` to make the agent die.
 */
export interface HookAgent {
  readonly process: ChildProcess;
  hook(payload: Record<string, unknown>): Promise<void>;
}

export function startHookAgent(env: NodeJS.ProcessEnv, cwd: string): HookAgent {
  const script = `
    const { spawnSync } = require('node:child_process');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      spawnSync(process.execPath, [${JSON.stringify(MAM)}, 'hook'], { input: line, stdio: ['pipe', 'ignore', 'ignore'] });
      process.stdout.write('done\\n');
    });`;
  const agent = spawn(process.execPath, ['-e', script], { env, cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  const pending: (() => void)[] = [];
  agent.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (let count = chunk.split('done').length - 1; count > 0; count--) pending.shift()?.();
  });
  return {
    process: agent,
    hook: (payload) =>
      new Promise<void>((resolve) => {
        pending.push(resolve);
        agent.stdin!.write(`${JSON.stringify(payload)}\n`);
      }),
  };
}
