// `mam-hook` (what installed agent hooks run) is `mam hook` bundled into one CommonJS file: no ES module
// loader, no module graph, ~10 ms less start-up on every agent event (bench/hook.bench.ts). Bundled from
// tsc's output, so there is one compiler; the registry and agent modules, needed only on a SessionStart in a
// session mam started, stay separate files loaded by import(). What the hook needs from them on every event, each
// agent's own hook event names (`hooks.eventAliases`), is read from the built agent table here and built in as the
// constant MAM_HOOK_EVENT_ALIASES (hookEventAliases in src/facts/hook.ts).
import { chmod } from 'node:fs/promises';
import { build } from 'esbuild';

const { AGENT_KINDS } = await import(new URL('../dist/agents/index.js', import.meta.url).href);
const eventAliases = Object.fromEntries(AGENT_KINDS.flatMap((kind) => (kind.hooks?.eventAliases?.length ? [[kind.id, kind.hooks.eventAliases]] : [])));

const outfile = 'dist/cli/hook.cjs';
await build({
  entryPoints: ['dist/cli/hook-main.js'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['../agents/*', '../registry/*'],
  // import.meta.url (hook.ts finds main.js by it) means this file in CommonJS.
  define: { 'import.meta.url': '__mamHookUrl', MAM_HOOK_EVENT_ALIASES: JSON.stringify(eventAliases) },
  banner: { js: '#!/usr/bin/env node\nconst __mamHookUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
