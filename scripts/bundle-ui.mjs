// `mam ui`'s React and ink as one file: dist/ui/ink-vendor.js (tsc's re-export of the two packages) is replaced by an
// esbuild bundle of itself. Loading them file by file cost ~0.7 s of the dashboard's start on a busy 2-core machine,
// the bundle ~0.2 s (docs/ui.md, 'Rendering, and why ink'). Nothing else imports React or ink, so there is one React.
// scripts/build.mjs calls bundleUi whenever tsc has (re)written the file; run alone, this script bundles it once.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const UI_VENDOR = 'dist/ui/ink-vendor.js';
const BANNER = "import { createRequire as __mamRequire } from 'node:module'; const require = __mamRequire(import.meta.url);";

/** True when the file is already the bundle (tsc's output is a two-line re-export without the banner). */
export function isBundled(root) {
  try {
    return readFileSync(path.join(root, UI_VENDOR), 'utf8').startsWith(BANNER);
  } catch {
    return false;
  }
}

export async function bundleUi(root) {
  const outfile = path.join(root, UI_VENDOR);
  await build({
    entryPoints: [outfile],
    outfile,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    // Loaded by ink only with DEV=true, which mam never sets; it is not a dependency.
    alias: { 'react-devtools-core': path.join(root, 'scripts/empty-module.mjs') },
    // The packages' CommonJS parts require Node's built-ins.
    banner: { js: BANNER },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleUi(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
}
