import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layout is a contract (issue 12): folders under src/ name concepts and import in one direction, the README's
 * code map names exactly those folders, and cli/ files are thin. Checked on the source text, so a new import that
 * closes a cycle fails here before anyone has to find it.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? sourceFiles(file) : name.endsWith('.ts') ? [file] : [];
  });
}

interface Import {
  readonly from: string;
  readonly to: string;
  /** `import type` / `export type`: erased at run time, but still a dependency of the folder. */
  readonly typeOnly: boolean;
}

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function imports(): Import[] {
  return sourceFiles(SRC).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(IMPORT)].map((match) => {
      const spec = match[3] ?? match[4]!;
      const to = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      return { from: file, to, typeOnly: match[2] !== undefined };
    });
  });
}

/** `src/a/b.ts` → `a`; files directly under src/ are the root room `.`. */
const room = (file: string): string => {
  const relative = path.relative(SRC, file).split(path.sep);
  return relative.length === 1 ? '.' : relative[0]!;
};

/** Strongly connected components with more than one member (Tarjan): each is a cycle. */
function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    order.set(node, index);
    low.set(node, index);
    index += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!order.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, order.get(next)!));
    }
    if (low.get(node) === order.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!order.has(node)) visit(node);
  return found;
}

function graph(pairs: Iterable<readonly [string, string]>): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const [from, to] of pairs) {
    if (from === to) continue;
    edges.set(from, (edges.get(from) ?? new Set()).add(to));
    if (!edges.has(to)) edges.set(to, new Set());
  }
  return edges;
}

describe('the source layout', () => {
  const all = imports();

  it('finds the imports it checks (the scan itself works)', () => {
    expect(all.length).toBeGreaterThan(300);
    expect(all.some((edge) => room(edge.from) === 'cli' && room(edge.to) === 'reconcile')).toBe(true);
    expect(cycles(graph([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']]))).toEqual([['a', 'b', 'c']]);
  });

  it('folders import in one direction: no cycle between folders, type imports included', () => {
    const between = graph(all.map((edge) => [room(edge.from), room(edge.to)] as const));
    const described = cycles(between).map((component) =>
      component
        .map((from) => `${from} → ${component.filter((to) => between.get(from)?.has(to)).join(', ')} (${all.filter((edge) => room(edge.from) === from && component.includes(room(edge.to)) && room(edge.to) !== from).map((edge) => path.relative(SRC, edge.from)).join(', ')})`)
        .join('; '),
    );
    expect(described).toEqual([]);
  });

  it('no module imports itself back at run time (file-level cycles, type-only imports aside)', () => {
    const runtime = graph(all.filter((edge) => !edge.typeOnly).map((edge) => [path.relative(SRC, edge.from), path.relative(SRC, edge.to)] as const));
    expect(cycles(runtime)).toEqual([]);
  });

  it('cli/ files import no other command: only command.ts and their own subcommand files', () => {
    // mam.ts dispatches to every command (main.ts runs it) and hook-main.ts is `mam hook` bundled on its own.
    const allowed = (from: string, to: string): boolean =>
      /^(?:main|mam|hook-main)$/.test(from) || to === 'command' || to.startsWith(`${from}-`);
    const strays = all.filter((edge) => room(edge.from) === 'cli' && room(edge.to) === 'cli' && !allowed(path.basename(edge.from, '.ts'), path.basename(edge.to, '.ts')));
    expect(strays.map((edge) => `${path.relative(SRC, edge.from)} → ${path.relative(SRC, edge.to)}`)).toEqual([]);
  });

  it("the README's code map names exactly the folders under src/", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const map = /<!-- code-map -->([\s\S]*?)<!-- \/code-map -->/.exec(readme)?.[1] ?? '';
    const named = new Set([...map.matchAll(/`src\/([a-z-]+)\/`/g)].map((match) => match[1]!));
    const folders = readdirSync(SRC).filter((name) => statSync(path.join(SRC, name)).isDirectory());
    expect([...named].sort()).toEqual(folders.sort());
  });

  it('the code map lists the rooms in import order: each imports only from rooms listed before it', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const map = /<!-- code-map -->([\s\S]*?)<!-- \/code-map -->/.exec(readme)?.[1] ?? '';
    // src/config.ts stands for the root room (files directly under src/).
    const order = [...map.matchAll(/^\| `src\/(?:([a-z-]+)\/|config\.ts)`/gm)].map((match) => match[1] ?? '.');
    const rank = new Map(order.map((name, index) => [name, index]));
    const upward = all.filter((edge) => room(edge.from) !== room(edge.to) && (rank.get(room(edge.to)) ?? Infinity) >= (rank.get(room(edge.from)) ?? -1));
    expect(upward.map((edge) => `${path.relative(SRC, edge.from)} → ${path.relative(SRC, edge.to)}`)).toEqual([]);
  });

  it('comments cite files in the repository, not documents outside it', () => {
    const outside = [...sourceFiles(SRC), ...sourceFiles(path.join(ROOT, 'test')), ...sourceFiles(path.join(ROOT, 'bench'))].flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, index) => (/\/work\/shared|\breference\b[^\n]*§|\bseed 00\d/.test(line) && !file.endsWith('layout.test.ts') ? [`${path.relative(ROOT, file)}:${index + 1}`] : [])),
    );
    expect(outside).toEqual([]);
  });

  it("zod is imported as a namespace, so the CLI's bundle leaves out what it does not use", () => {
    // `import { z } from 'zod'` takes zod's `z` object as a whole: the bundle then carries every locale zod has (the
    // CLI's zod chunk was 755 KB, 244 KB without them), which every command that validates pays to load. `import * as
    // z` lets esbuild keep only the parts used.
    const whole = sourceFiles(SRC).filter((file) => /import\s*\{[^}]*\bz\b[^}]*\}\s*from\s*'zod'/.test(readFileSync(file, 'utf8')));
    expect(whole.map((file) => path.relative(ROOT, file))).toEqual([]);
    expect(sourceFiles(SRC).some((file) => readFileSync(file, 'utf8').includes("import * as z from 'zod';"))).toBe(true);
  });
});
