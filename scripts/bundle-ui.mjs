// `mam ui`'s React and ink as one file: dist/ui/ink-vendor.js (tsc's re-export of the two packages) is replaced by an
// esbuild bundle of itself. Loading them file by file cost ~0.7 s of the dashboard's start on a busy 2-core machine,
// the bundle ~0.2 s (docs/ui.md, 'Rendering, and why ink'). Nothing else imports React or ink, so there is one React.
import { build } from 'esbuild';

const outfile = 'dist/ui/ink-vendor.js';
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
  alias: { 'react-devtools-core': './scripts/empty-module.mjs' },
  // The packages' CommonJS parts require Node's built-ins.
  banner: { js: "import { createRequire as __mamRequire } from 'node:module'; const require = __mamRequire(import.meta.url);" },
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
