/**
 * A registry writer in its own process, for the store's concurrency tests:
 *
 *   node --import tsx test/helpers/registry-writer.ts <registry> <name-prefix> <count> [--big N]
 *
 * Appends `count` entries named `<prefix>-0` … `<prefix>-<count-1>`, one `updateRegistry` call each (so
 * each is its own locked read-modify-write). `--big N` pads every new entry with an unknown field of
 * exactly `bigPadding(name, N)`, so the file grows by N bytes a write and writes last long enough to be
 * killed half-way. Prints `ready` before the first write and `wrote <name>` after each write returns.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendEntry } from '../../src/registry/document.js';
import { updateRegistry } from '../../src/registry/store.js';

/** The padding a `--big` writer gives the entry `name`; a reader checks it arrived whole. */
export function bigPadding(name: string, size: number): string {
  return `${name}:${'x'.repeat(size)}:end`;
}

/** The workspace a writer records for `name`, next to the registry. */
export function writerWorkspace(registry: string, name: string): string {
  return path.join(path.dirname(path.resolve(registry)), 'workspaces', name);
}

async function main(argv: readonly string[]): Promise<void> {
  const positional: string[] = [];
  let big: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--big') big = Number(argv[++i]);
    else positional.push(arg);
  }
  const [file, prefix, countText] = positional;
  const count = Number(countText);
  if (!file || !prefix || !Number.isInteger(count) || count < 0 || (big !== undefined && !(Number.isInteger(big) && big > 0))) {
    throw new Error('usage: registry-writer.ts <registry> <name-prefix> <count> [--big N]');
  }
  const registry = path.resolve(file);

  process.stdout.write('ready\n');
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    await updateRegistry(registry, (parsed) => {
      appendEntry(parsed.document, {
        name,
        agent: 'claude',
        workspace: writerWorkspace(registry, name),
        status: 'running',
        ...(big === undefined ? {} : { padding: bigPadding(name, big) }),
      });
      return { changed: true, result: undefined };
    });
    process.stdout.write(`wrote ${name}\n`);
  }
}

// Only when run as a script: the test file imports bigPadding/writerWorkspace from here.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`registry-writer: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
