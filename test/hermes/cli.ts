/**
 * Entry point of the `hermes` stand-in executable (see ./hermes and README.md): runs `runHermes` on
 * process.argv/process.env, streams its output and exits with its code. With SUPERVISE_FLAG it is instead
 * the per-worker supervisor the dispatcher starts (spawn spec on stdin, one JSON report line on stdout).
 */
import { runHermes, runSupervisorAs, superviseWorker, SUPERVISE_FLAG } from './standin.js';

const argv = process.argv.slice(2);
// Workers' supervisors start the way this process did: from the bundle (bundle.ts) when the wrapper chose it.
runSupervisorAs([...process.execArgv, process.argv[1]!]);

if (argv[0] === SUPERVISE_FLAG) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  process.exitCode = await superviseWorker(Buffer.concat(chunks).toString('utf8'), (line) => {
    try {
      process.stdout.write(`${line}\n`);
    } catch {
      // the dispatcher stopped listening
    }
  });
} else {
  const controller = new AbortController();
  if (argv.includes('daemon')) {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => controller.abort());
  }
  const result = await runHermes(argv, process.env, {
    signal: controller.signal,
    onOutput: (stream, text) => {
      (stream === 'stdout' ? process.stdout : process.stderr).write(text);
    },
  });
  process.exitCode = result.exitCode;
}
