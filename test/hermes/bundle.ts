import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The stand-in as one JavaScript file, so the `hermes` wrapper need not start tsx: under tsx every invocation
 * transforms and loads ~20 TypeScript modules (about 0.55 CPU s), the bundle about 0.15 s. The suite runs the
 * executable several hundred times, and its dispatched workers' supervisors as many again (docs/development.md,
 * 'How the suite is kept fast'). The wrapper takes the bundle only while no source is newer than it, so an edit
 * is never run stale: it falls back to tsx until the next build.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Inside node_modules so the packages the bundle leaves external resolve as they do for the sources. */
export const STANDIN_BUNDLE = path.resolve(HERE, '..', '..', 'node_modules', '.cache', 'mam-test', 'hermes-standin.mjs');

/** Writes the bundle afresh. Two vitest processes may build at once: each renames its own complete file. */
export async function bundleStandin(): Promise<string> {
  mkdirSync(path.dirname(STANDIN_BUNDLE), { recursive: true });
  const temp = `${STANDIN_BUNDLE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await build({
      entryPoints: [path.join(HERE, 'cli.ts')],
      outfile: temp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'warning',
    });
    renameSync(temp, STANDIN_BUNDLE);
  } finally {
    rmSync(temp, { force: true });
  }
  return STANDIN_BUNDLE;
}
