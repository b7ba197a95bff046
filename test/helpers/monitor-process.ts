import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { eachTest } from './each-test.js';
import { MAM, Sandbox } from './sandbox.js';

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

/** A sandbox for the running test, and `mam monitor` started in it. */
export interface MonitorWorld {
  /** The running test's sandbox. */
  readonly box: Sandbox;
  /** `startMonitor(args)` with the sandbox's environment and `env`; the monitor is killed if it outlives the test. */
  start(args: readonly string[], env?: NodeJS.ProcessEnv): MonitorProcess;
}

/**
 * The set-up of the monitor e2e files: a new sandbox before each test; after it, the last monitor the test started
 * SIGKILLed if it is still running, then the sandbox disposed of.
 */
export function monitorEachTest(): MonitorWorld {
  const current = eachTest(
    'the monitor sandbox',
    async (): Promise<{ box: Sandbox; child?: ChildProcessWithoutNullStreams }> => ({ box: await Sandbox.create() }),
    async ({ box, child }) => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await box.dispose();
    },
  );
  return {
    get box() {
      return current().box;
    },
    start(args, env = {}) {
      const world = current();
      const monitor = startMonitor(args, world.box.env(env));
      world.child = monitor.process;
      return monitor;
    },
  };
}
