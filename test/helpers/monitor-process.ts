import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { MAM } from './sandbox.js';

/** A running `mam monitor` a test started, everything it printed (stdout and stderr in order of arrival) so far. */
export interface MonitorProcess {
  readonly process: ChildProcessWithoutNullStreams;
  output(): string;
  /** Its exit code, once it has exited. */
  readonly exited: Promise<number | null>;
}

/**
 * `mam monitor <args>` with `env`, reading commands from its stdin (`MAM_MONITOR_STDIN`: a `stop` line ends it).
 * The caller kills `process` if the test ends before it does.
 */
export function startMonitor(args: readonly string[], env: NodeJS.ProcessEnv): MonitorProcess {
  const spawned = spawn(process.execPath, [MAM, 'monitor', ...args], { env: { ...env, MAM_MONITOR_STDIN: '1' } });
  let output = '';
  spawned.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  spawned.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return { process: spawned, output: () => output, exited: new Promise((resolve) => spawned.once('exit', (code) => resolve(code))) };
}
