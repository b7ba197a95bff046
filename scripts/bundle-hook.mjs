// `mam hook` runs on every agent event, so its start-up is its cost (bench/hook.bench.ts). One ES module
// instead of a dozen saves the loader ~5 ms per call. Bundled from tsc's output, so there is one compiler;
// the registry and agent modules, needed only on a SessionStart in a session mam started, stay separate.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/hook.js'],
  outfile: 'dist/cli/hook.bundle.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['../agents/*', '../registry/*'],
  logLevel: 'warning',
});
