#!/usr/bin/env node
// `npm run bench`: every bench/*.bench.ts, one after another (each measures its own baseline in the same run, so
// they must not share the machine with each other). `npm run bench -- hook oneshot` runs only those.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// The cheap, whole-system ones first; the real-agent ones (minutes each) last.
const LAST = ['approval', 'lane', 'restore', 'status-latency'];
const all = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.slice(0, -'.bench.ts'.length))
  .sort((a, b) => Number(LAST.includes(a)) - Number(LAST.includes(b)) || a.localeCompare(b));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`bench: no bench/${unknown[0]}.bench.ts; the benchmarks are: ${all.join(', ')}`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : all) {
  console.log(`\n## bench/${name}.bench.ts`);
  // The monitor bench reads its own heap after a forced collection.
  const args = ['--expose-gc', '--import', 'tsx', path.join(here, `${name}.bench.ts`)];
  const ran = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (ran.status !== 0) {
    console.error(`bench: bench/${name}.bench.ts exited ${ran.status ?? ran.signal}`);
    process.exit(1);
  }
}
