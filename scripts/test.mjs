#!/usr/bin/env node
// `npm test`: the whole suite as three vitest processes side by side — the `unit` project on this terminal, and each
// real-agent project (`claude`, `codex-gemini`: one file at a time, each mostly waiting on a real CLI) beside it, its
// lines prefixed with its name. One vitest process would run them only after every unit file: it puts projects with
// `maxWorkers: 1` in a group of their own that starts when the others are done; and one process for both real-agent
// projects runs them one after the other, which made them the longest part of the run (docs/development.md).
// `packaging` (the build, `npm pack`, this script) runs after `codex-gemini` in its process, the one done first.
// Arguments (file filters, -t, --project …) mean a run the person chose: one `vitest run` with them, as before.
// Exits with the first failure's code; Ctrl-C or SIGTERM reaches every process, and none outlives this one.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import readline from 'node:readline';

// MAM_TEST_VITEST: a stand-in, for this script's own test (test/packaging/test-launcher.test.ts).
const vitest = process.env.MAM_TEST_VITEST || fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
if (!existsSync(vitest)) {
  process.stderr.write(`npm test: vitest is not installed (${vitest} is missing); run \`npm ci\` first\n`);
  process.exit(1);
}
const args = process.argv.slice(2);
/** Each vitest process: its name (the prefix of its lines; none for `unit`) and the projects it runs, in order. */
const PROCESSES = [
  { name: 'unit', projects: ['unit'] },
  { name: 'claude', projects: ['claude'] },
  { name: 'codex-gemini+packaging', projects: ['codex-gemini', 'packaging'] },
];

/** Starts one vitest; `prefix` sends its output through this process, one prefixed line at a time. */
function run(vitestArgs, prefix) {
  // Piped, vitest would drop its colours; they stay as long as this terminal shows them (NO_COLOR is honoured).
  const env = prefix && process.stdout.isTTY && !process.env.NO_COLOR ? { ...process.env, FORCE_COLOR: '1' } : process.env;
  const child = spawn(process.execPath, [vitest, 'run', ...vitestArgs], { stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit', env });
  if (prefix) {
    for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${prefix} ${line}\n`));
    }
  }
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`npm test: could not start vitest (${error.message})\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1)));
  });
  return { child, exited };
}

const runs =
  args.length > 0
    ? [run(args)]
    : PROCESSES.map(({ name, projects }) => run(projects.flatMap((project) => ['--project', project]), name === 'unit' ? undefined : `[${name}]`));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    for (const { child } of runs) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
const codes = await Promise.all(runs.map((one) => one.exited));
if (runs.length > 1) process.stdout.write(`\nnpm test: ${PROCESSES.map(({ name }, index) => `${name} ${codes[index] === 0 ? 'passed' : `failed (exit ${codes[index]})`}`).join('; ')}\n`);
process.exitCode = codes.find((code) => code !== 0) ?? 0;
