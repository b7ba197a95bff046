import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { REPO } from './sandbox.js';

/**
 * A TypeScript script that tests run as a child process (a registry writer, a lock holder, the `hermes` stand-in), as
 * one JavaScript file. Under `node --import tsx` every start transforms and loads the script's modules one by one:
 * about 0.6 CPU s more per start than the bundle (docs/development.md, 'How the suite is kept fast').
 */

/** Inside node_modules, so the packages a bundle leaves external resolve as they do for the sources. */
export const SCRIPT_CACHE = path.join(REPO, 'node_modules', '.cache', 'mam-test');

/** Bundles `entry` into `outfile` afresh. Processes bundling at once each rename their own complete file. */
export async function bundleScript(entry: string, outfile: string): Promise<string> {
  mkdirSync(path.dirname(outfile), { recursive: true });
  const temp = `${outfile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await build({ entryPoints: [entry], outfile: temp, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
    renameSync(temp, outfile);
  } finally {
    rmSync(temp, { force: true });
  }
  return outfile;
}

const bundled = new Map<string, Promise<string>>();

/**
 * `entry` bundled once per test process and run (`node <path>`): built from the sources this run sees, so never
 * stale. The file is named after the entry's path in the repository.
 */
export function bundledScript(entry: string): Promise<string> {
  const relative = path.relative(REPO, path.resolve(entry));
  const outfile = path.join(SCRIPT_CACHE, 'scripts', `${relative.replace(/\.[cm]?ts$/, '').replaceAll(path.sep, '__')}.mjs`);
  let made = bundled.get(outfile);
  if (!made) {
    made = bundleScript(entry, outfile);
    bundled.set(outfile, made);
  }
  return made;
}
