import { processContext } from './command.js';
import { hookCommand } from './hook.js';

/**
 * The entry agents' hooks run (`mam-hook`, built into dist/cli/hook.cjs by scripts/bundle-hook.mjs): the same
 * command as `mam hook`, without the CLI's dispatcher. One CommonJS file starts ~10 ms sooner than the ES module
 * graph behind `mam hook` — on every agent event (bench/hook.bench.ts).
 */
void hookCommand.run(processContext(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
