import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleScript, SCRIPT_CACHE } from '../helpers/bundled-script.js';

/**
 * The stand-in as one JavaScript file, so the `hermes` wrapper need not start tsx: under tsx every invocation
 * transforms and loads ~20 TypeScript modules (about 0.55 CPU s), the bundle about 0.15 s. The suite runs the
 * executable several hundred times, and its dispatched workers' supervisors as many again (docs/development.md,
 * 'How the suite is kept fast'). The wrapper takes the bundle only while no source is newer than it, so an edit
 * is never run stale: it falls back to tsx until the next build.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Where the `hermes` wrapper looks for it (SCRIPT_CACHE is inside node_modules, where its packages resolve). */
export const STANDIN_BUNDLE = path.join(SCRIPT_CACHE, 'hermes-standin.mjs');

/** Writes the bundle afresh. Two vitest processes may build at once: each renames its own complete file. */
export function bundleStandin(): Promise<string> {
  return bundleScript(path.join(HERE, 'cli.ts'), STANDIN_BUNDLE);
}
