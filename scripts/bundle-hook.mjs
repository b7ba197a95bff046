// `mam-hook` (what installed agent hooks run) is `mam hook` bundled into one CommonJS file: no ES module
// loader, no module graph, ~10 ms less start-up on every agent event (bench/hook.bench.ts). Bundled from
// tsc's output, so there is one compiler; the registry and agent modules, needed only on a SessionStart in a
// session mam started, stay separate files loaded by import(). What the hook needs from them on every event, each
// agent's own hook event names (`hooks.eventAliases`), is read from the built agent table here and built in as the
// constant MAM_HOOK_EVENT_ALIASES (hookEventAliases in src/facts/hook.ts).
//
// The fast hook, src/facts/mam-hook.sh (a shell script, nothing to compile), is copied beside it as
// dist/cli/mam-hook.sh and counted among the inputs, so editing it rebundles.
//
// scripts/build.mjs calls these two functions, and rebundles only when an input changed: a file esbuild read (the
// list `bundleHook` returns) or the aliases. Run directly (`node scripts/bundle-hook.mjs`), it bundles once.
import { chmod, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const HOOK_OUTFILE = 'dist/cli/hook.cjs';
const FAST_HOOK = 'src/facts/mam-hook.sh';
export const FAST_HOOK_OUTFILE = 'dist/cli/mam-hook.sh';

/** Each agent's hook event aliases by agent id, from the built agent table under `root`/dist. */
export async function hookEventAliases(root) {
  const { AGENT_KINDS } = await import(pathToFileURL(path.join(root, 'dist/agents/index.js')).href);
  return Object.fromEntries(AGENT_KINDS.flatMap((kind) => (kind.hooks?.eventAliases?.length ? [[kind.id, kind.hooks.eventAliases]] : [])));
}

/** Writes `root`/dist/cli/hook.cjs; resolves the files esbuild read, relative to `root`. */
export async function bundleHook(root, eventAliases) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['dist/cli/hook-main.js'],
    outfile: HOOK_OUTFILE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['../agents/*', '../registry/*'],
    // import.meta.url (hook.ts finds main.js by it) means this file in CommonJS.
    define: { 'import.meta.url': '__mamHookUrl', MAM_HOOK_EVENT_ALIASES: JSON.stringify(eventAliases) },
    banner: { js: '#!/usr/bin/env node\nconst __mamHookUrl = require("node:url").pathToFileURL(__filename).href;' },
    metafile: true,
    logLevel: 'warning',
  });
  await chmod(path.join(root, HOOK_OUTFILE), 0o755);
  await copyFile(path.join(root, FAST_HOOK), path.join(root, FAST_HOOK_OUTFILE));
  await chmod(path.join(root, FAST_HOOK_OUTFILE), 0o755);
  return [...Object.keys(result.metafile.inputs), FAST_HOOK].sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  await bundleHook(root, await hookEventAliases(root));
}
