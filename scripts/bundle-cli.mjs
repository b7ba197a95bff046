// `mam` as a bundle: dist/bundle/mam.js and its chunks, from tsc's dist/cli/mam.js, which dist/cli/main.js loads
// when it is there (src/cli/main.ts). Loading ~150 ES modules one by one, and zod's ~95 and yaml's CommonJS files,
// was most of what a one-shot command such as `mam status --json` paid before its first line (bench/oneshot.bench.ts).
// Code splitting keeps each command's modules in chunks loaded only when that command runs, and one copy of each
// module across them (so `instanceof MamError` still holds). Bundled from tsc's output, so there is one compiler.
//
// Bundled too: pino and pino-pretty (src/util/log.ts hands pino streams, never a transport, so pino never looks for
// its worker files on disk) and the MQTT packages (mqtt, aedes): loaded from node_modules, a package of a few hundred
// CommonJS files cost each command that talks to a broker ~0.15 CPU s more than the same code bundled, and
// `mam job event`'s first call in a sandbox (record, publish, start the daemon) was 0.9 CPU s. They stay in chunks of
// their own, loaded only by the commands that import them. Left as it is: `mam ui`'s own bundle of React and ink
// (scripts/bundle-ui.mjs). dist/bundle/ sits one folder below dist/, as cli/ does, so the paths the code finds by
// import.meta.url (../cli/main.js, ../../prompts/, ../cli/hook.cjs) hold from either place.
//
// scripts/build.mjs calls bundleCli and rebundles only when a file esbuild read changed (the list it returns).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const CLI_BUNDLE_DIR = 'dist/bundle';
export const CLI_BUNDLE = `${CLI_BUNDLE_DIR}/mam.js`;
const BANNER = "import { createRequire as __mamRequire } from 'node:module'; const require = __mamRequire(import.meta.url);";
const EXTERNAL = ['ink', 'react', 'react-devtools-core'];

/** Writes `root`/dist/bundle/ afresh; resolves the files esbuild read, relative to `root`. */
export async function bundleCli(root) {
  rmSync(path.join(root, CLI_BUNDLE_DIR), { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { mam: 'dist/cli/mam.js' },
    outdir: CLI_BUNDLE_DIR,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    plugins: [
      {
        // `mam ui`'s vendor file is a bundle already (scripts/bundle-ui.mjs): load it where it is.
        name: 'ui-vendor-stays',
        setup(builder) {
          builder.onResolve({ filter: /\/ink-vendor\.js$/ }, () => ({ path: '../ui/ink-vendor.js', external: true }));
        },
      },
    ],
    // The bundled packages' CommonJS parts (yaml's, pino's, mqtt's) require Node's built-ins.
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'warning',
  });
  return Object.keys(result.metafile.inputs).sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleCli(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
}
