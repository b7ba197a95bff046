#!/usr/bin/env node
import { existsSync } from 'node:fs';

/**
 * `mam`. The build bundles the CLI (scripts/bundle-cli.mjs) into dist/bundle/: a few files in place of ~150 ES
 * modules and zod's and yaml's own, loaded in a fraction of the time, which every one-shot command pays
 * (bench/oneshot.bench.ts). Without a bundle (sources run through tsx, a tsc-only build) the modules load as
 * written. The bundle sits one folder below dist/, as cli/ does, so every path it finds by import.meta.url holds.
 */
const bundle = new URL('../bundle/mam.js', import.meta.url);
const entry = (await import(existsSync(bundle) ? bundle.href : './mam.js')) as typeof import('./mam.js');
await entry.runMam();
