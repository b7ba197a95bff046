#!/usr/bin/env node
// `npm run build` — and so `npm start`, `npm test` (pretest) and, with --clean, `npm pack` (prepack): dist/ from
// src/, doing only the work a change needs, and never leaving a dist/ that does not match the sources.
//
// - dist/.build-stamp.json, written last and only by a build that succeeded, records what dist/ was built from
//   (the configuration: tsconfig.json, package.json "type", package-lock.json, the compiler's and bundler's
//   versions, these scripts; and every file under src/, by hash) and every file dist/ then held, by hash.
// - Nothing changed → nothing runs: hashing src/ and dist/ takes milliseconds, where even a no-op tsc takes seconds.
// - The configuration changed, or dist/ is not what the stamp says (a file edited, deleted or added outside this
//   script, an interrupted build, no stamp at all) → dist/ is deleted and built from scratch. So is it with --clean.
// - Only sources changed → `tsc --incremental` (its state in dist/.tsbuildinfo) compiles what they affect; outputs
//   whose source is gone are deleted (tsc never deletes them); the hook bundle is redone only if one of its inputs
//   changed (see scripts/bundle-hook.mjs); so is the CLI's bundle, dist/bundle/ (scripts/bundle-cli.mjs); `mam ui`'s
//   vendor bundle only if tsc rewrote its file (scripts/bundle-ui.mjs).
// - tsc runs with --noEmitOnError: a build that fails type checking writes nothing and exits non-zero, so
//   `npm start` and `npm test` stop there instead of running an older dist/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = 'dist/.build-stamp.json';
const TSBUILDINFO = 'dist/.tsbuildinfo';
const HOOK = 'dist/cli/hook.cjs';
const CLI_BUNDLE_DIR = 'dist/bundle';
/** The build's own files in dist/: not outputs of a source, and not shipped (package.json "files"). */
const BOOKKEEPING = new Set([STAMP, TSBUILDINFO]);
const require = createRequire(import.meta.url);
const say = (line) => console.log(`build: ${line}`);

function filesUnder(relative) {
  const walk = (dir) =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const child = `${dir}/${entry.name}`;
      return entry.isDirectory() ? walk(child) : [child];
    });
  return existsSync(path.join(ROOT, relative)) ? walk(relative).sort() : [];
}

const hashOf = (file) => {
  try {
    return createHash('sha256').update(readFileSync(path.join(ROOT, file))).digest('hex');
  } catch {
    return 'missing';
  }
};
const hashes = (files) => Object.fromEntries(files.map((file) => [file, hashOf(file)]));
const packageVersion = (name) => JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;

/** Everything besides the sources that decides what tsc and esbuild write; a change rebuilds from scratch. */
function configuration() {
  return {
    'tsconfig.json': hashOf('tsconfig.json'),
    'package.json "type"': JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).type ?? 'commonjs',
    // The dependencies' types decide whether the sources type-check: a changed lock file rechecks everything.
    'package-lock.json': hashOf('package-lock.json'),
    typescript: packageVersion('typescript'),
    esbuild: packageVersion('esbuild'),
    'scripts/build.mjs': hashOf('scripts/build.mjs'),
    'scripts/bundle-hook.mjs': hashOf('scripts/bundle-hook.mjs'),
    'scripts/bundle-ui.mjs': hashOf('scripts/bundle-ui.mjs'),
    'scripts/bundle-cli.mjs': hashOf('scripts/bundle-cli.mjs'),
  };
}

const outputs = () => hashes(filesUnder('dist').filter((file) => !BOOKKEEPING.has(file)));

/** The differences between two {name: value} records, each said for a person; empty when they are equal. */
function differences(recorded, current) {
  return [...new Set([...Object.keys(recorded), ...Object.keys(current)])].flatMap((name) =>
    !(name in current) ? [`${name} is gone`] : !(name in recorded) ? [`${name} is new`] : recorded[name] !== current[name] ? [`${name} changed`] : [],
  );
}

/** The first difference and how many more: `src/a.ts changed and 2 more`. */
const summary = (found) => (found.length > 1 ? `${found[0]} and ${found.length - 1} more` : found[0]);

function readStamp() {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, STAMP), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why dist/ must be built from scratch, or undefined when an incremental build (or none) will do. */
function scratchReason(stamp, config, clean) {
  if (clean) return 'asked for (--clean)';
  if (!existsSync(path.join(ROOT, 'dist'))) return 'there is no dist/ yet';
  if (stamp === undefined) return `${STAMP} is missing or unreadable, so nothing says what dist/ was built from`;
  const changed = differences(stamp.configuration ?? {}, config);
  if (changed.length > 0) return `the build configuration changed: ${summary(changed)}`;
  const drift = differences(stamp.outputs ?? {}, outputs());
  if (drift.length > 0) return `dist/ is not what the last build wrote: ${summary(drift)}`;
  return undefined;
}

function compile() {
  const tsc = require.resolve('typescript/bin/tsc');
  const started = performance.now();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', TSBUILDINFO, '--noEmitOnError'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: tsc ${result.error ? `did not run (${result.error.message})` : 'reported errors (above)'}; dist/ was not updated. Fix them and build again.`);
    process.exit(1);
  }
  say(`tsc compiled in ${seconds(performance.now() - started)}`);
}

/** Outputs of sources that no longer exist (tsc writes outputs but never deletes one), and folders left empty. */
function prune() {
  for (const file of filesUnder('dist')) {
    if (file.startsWith(`${CLI_BUNDLE_DIR}/`)) continue; // the CLI bundle's files have no source of their own
    const stem = /^dist\/(.+?)\.(?:js|js\.map|d\.ts|d\.ts\.map)$/.exec(file)?.[1];
    if (stem === undefined || existsSync(path.join(ROOT, 'src', `${stem}.ts`)) || existsSync(path.join(ROOT, 'src', `${stem}.tsx`))) continue;
    rmSync(path.join(ROOT, file));
    say(`deleted ${file}: its source is gone`);
  }
  const removeEmpty = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeEmpty(path.join(dir, entry.name));
    if (dir !== path.join(ROOT, 'dist') && readdirSync(dir).length === 0) rmdirSync(dir);
  };
  removeEmpty(path.join(ROOT, 'dist'));
}

/** Bundles mam-hook unless the previous bundle's inputs (the files esbuild read, and the aliases) are unchanged. */
async function hook(previous, force) {
  const { bundleHook, hookEventAliases } = await import('./bundle-hook.mjs');
  const aliases = await hookEventAliases(ROOT);
  const unchanged =
    !force &&
    previous !== undefined &&
    existsSync(path.join(ROOT, HOOK)) &&
    JSON.stringify(previous.aliases) === JSON.stringify(aliases) &&
    differences(previous.inputs, hashes(Object.keys(previous.inputs))).length === 0;
  if (unchanged) {
    say(`${HOOK} is up to date (none of its inputs changed)`);
    return previous;
  }
  const inputs = hashes(await bundleHook(ROOT, aliases));
  say(`bundled ${HOOK} from ${Object.keys(inputs).length} files`);
  return { aliases, inputs };
}

/** The CLI bundle (dist/bundle/), unless the files esbuild read for the previous one are unchanged. */
async function cliBundle(previous, force) {
  const { bundleCli, CLI_BUNDLE } = await import('./bundle-cli.mjs');
  const unchanged = !force && previous !== undefined && existsSync(path.join(ROOT, CLI_BUNDLE)) && differences(previous.inputs, hashes(Object.keys(previous.inputs))).length === 0;
  if (unchanged) {
    say(`${CLI_BUNDLE_DIR}/ is up to date (none of its inputs changed)`);
    return previous;
  }
  const inputs = hashes(await bundleCli(ROOT));
  say(`bundled ${CLI_BUNDLE_DIR}/ (mam) from ${Object.keys(inputs).length} files`);
  return { inputs };
}

/** `mam ui`'s React + ink bundle replaces tsc's re-export in place; redone whenever tsc wrote that file again. */
async function uiVendor() {
  const { bundleUi, isBundled, UI_VENDOR } = await import('./bundle-ui.mjs');
  if (isBundled(ROOT)) return;
  await bundleUi(ROOT);
  say(`bundled ${UI_VENDOR} (React and ink in one file)`);
}

function writeStamp(stamp) {
  const file = path.join(ROOT, STAMP);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(stamp, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

const args = process.argv.slice(2);
const unknown = args.find((arg) => arg !== '--clean');
if (unknown !== undefined) {
  console.error(`build: unknown argument ${JSON.stringify(unknown)}. Usage: node scripts/build.mjs [--clean]`);
  process.exit(2);
}
const started = performance.now();
const config = configuration();
const sources = hashes(filesUnder('src'));
const stamp = readStamp();
const reason = scratchReason(stamp, config, args.includes('--clean'));
if (reason !== undefined) {
  say(`building dist/ from scratch: ${reason}`);
  rmSync(path.join(ROOT, 'dist'), { recursive: true, force: true });
  compile();
  await uiVendor();
  const hookRecord = await hook(undefined, true);
  const cliRecord = await cliBundle(undefined, true);
  writeStamp({ configuration: config, sources, hook: hookRecord, cli: cliRecord, outputs: outputs() });
} else {
  const changed = differences(stamp.sources ?? {}, sources);
  if (changed.length === 0) {
    say(`dist/ is up to date (${Object.keys(sources).length} source files unchanged)`);
    process.exit(0);
  }
  say(`compiling what changed since the last build: ${summary(changed)}`);
  compile();
  prune();
  await uiVendor();
  const hookRecord = await hook(stamp.hook, false);
  const cliRecord = await cliBundle(stamp.cli, false);
  writeStamp({ configuration: config, sources, hook: hookRecord, cli: cliRecord, outputs: outputs() });
}
say(`done in ${seconds(performance.now() - started)}`);
