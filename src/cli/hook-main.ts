import { hookCommand } from './hook.js';

/**
 * The entry agents' hooks run (`mam-hook`, built into dist/cli/hook.cjs by scripts/bundle-hook.mjs): the same
 * command as `mam hook`, without the CLI's dispatcher. One CommonJS file starts ~10 ms sooner than the ES module
 * graph behind `mam hook` — on every agent event (bench/hook.bench.ts).
 */
void hookCommand
  .run({
    argv: process.argv.slice(2),
    env: process.env,
    cwd: process.cwd(),
    // Created on first use only: a hook normally prints nothing, and creating them loads tty, net and streams.
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
  })
  .then((code) => {
    process.exitCode = code;
  });
