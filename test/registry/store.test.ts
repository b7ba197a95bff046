import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LockTimeoutError, RegistryError } from '../../src/util/errors.js';
import { writeFileAtomic } from '../../src/registry/atomic.js';
import { appendEntry, parseRegistry, type ParsedRegistry } from '../../src/registry/document.js';
import { acquireLock } from '../../src/registry/lock.js';
import { lockFileOf, readRegistry, updateRegistry } from '../../src/registry/store.js';
import { bigPadding, writerWorkspace } from '../helpers/registry-writer.js';
import { bundledScript } from '../helpers/bundled-script.js';
import { REPO, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * The registry store against real processes: util-linux flock(1) from bash, writer processes running
 * test/helpers/registry-writer.ts, SIGKILL. Nothing here mocks fs or flock.
 */

const WRITER = path.join(REPO, 'test/helpers/registry-writer.ts');
/** WRITER as one file: each writer process starts without tsx (test/helpers/bundled-script.ts). */
let writerScript: string;
beforeAll(async () => {
  writerScript = await bundledScript(WRITER);
});
const STORE_TS = path.join(REPO, 'src/registry/store.ts');
const NOBODY = 65534;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly output: { stdout: string; stderr: string };
  readonly exit: Promise<Exit>;
  lines(): string[];
}

const started = new Set<ChildProcess>();

function start(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(command, args, { cwd: REPO, env: { PATH: process.env['PATH'], LANG: 'C.UTF-8', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exit = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return { child, pid: child.pid, output, exit, lines: () => output.stdout.split('\n').filter(Boolean) };
}

/** bash -c SCRIPT with the given environment (values passed by name, never spliced into the script). */
function bash(script: string, env: NodeJS.ProcessEnv = {}): Proc {
  return start('bash', ['-c', script], env);
}

function writer(registry: string, prefix: string, count: number, big?: number): Proc {
  const args = [writerScript, registry, prefix, String(count)];
  if (big !== undefined) args.push('--big', String(big));
  return start(process.execPath, args);
}

async function expectExit(proc: Proc, expected: Exit = { code: 0, signal: null }): Promise<void> {
  const exit = await proc.exit;
  expect(exit, `pid ${proc.pid} stderr: ${proc.output.stderr}`).toEqual(expected);
}

const exists = (file: string): Promise<boolean> => stat(file).then(() => true, () => false);

function append(name: string, registry: string): (parsed: ParsedRegistry) => { changed: boolean; result: undefined } {
  return (parsed) => {
    appendEntry(parsed.document, { name, agent: 'claude', workspace: writerWorkspace(registry, name), status: 'running' });
    return { changed: true, result: undefined };
  };
}

/** A mutation that must never run. */
function untouchable(): { calls: number; mutate: () => { changed: boolean; result: undefined } } {
  const probe = {
    calls: 0,
    mutate: () => {
      probe.calls++;
      return { changed: true, result: undefined };
    },
  };
  return probe;
}

async function tempFiles(registry: string): Promise<string[]> {
  const prefix = `.${path.basename(registry)}.tmp-`;
  return (await readdir(path.dirname(registry))).filter((name) => name.startsWith(prefix));
}

async function names(registry: string): Promise<string[]> {
  return (await readRegistry(registry)).entries.map((entry) => entry.name);
}

let sandbox: Sandbox;
let registry: string;
let lock: string;

beforeEach(async () => {
  sandbox = await Sandbox.create('mam-store-');
  registry = sandbox.registry;
  lock = lockFileOf(registry);
});

afterEach(async () => {
  // Only processes this file started and that are still running (a failed assertion mid-test).
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
  await sandbox.dispose();
});

/** bash holding the registry's lock (`flock <reg>.lock -c …`) while it runs `body`; resolves once it holds it. */
async function bashHoldingLock(body: string, env: NodeJS.ProcessEnv): Promise<Proc> {
  const marker = path.join(sandbox.root, 'holding');
  const holder = bash(`flock "$LOCK" -c 'touch "$MARKER"; ${body}'`, { LOCK: lock, MARKER: marker, ...env });
  await until(() => exists(marker), 'bash to hold the lock', 120_000);
  return holder;
}

describe('registry lock interoperates with bash flock(1)', () => {
  it('updateRegistry waits until a bash `flock <reg>.lock -c …` holder lets go', async () => {
    await sandbox.writeRegistry('tmux_sessions:\n');
    const released = path.join(sandbox.root, 'released');
    const holder = await bashHoldingLock('sleep 2; date +%s%N > "$RELEASED"', { RELEASED: released });

    await updateRegistry(registry, append('after-bash', registry));
    const doneAt = Date.now();

    await expectExit(holder);
    const releasedAt = Number(BigInt((await readFile(released, 'utf8')).trim()) / 1_000_000n);
    expect(doneAt).toBeGreaterThanOrEqual(releasedAt);
    expect(await names(registry)).toEqual(['after-bash']);
  });

  it('gives up with LockTimeoutError after timeoutMs while bash holds the lock, writing nothing', async () => {
    await sandbox.writeRegistry('tmux_sessions:\n');
    const before = await readFile(registry);
    const release = path.join(sandbox.root, 'release');
    const holder = await bashHoldingLock('while [ ! -e "$RELEASE" ]; do sleep 0.02; done', { RELEASE: release });

    const probe = untouchable();
    const startedAt = Date.now();
    const failure = await updateRegistry(registry, probe.mutate, { timeoutMs: 300 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LockTimeoutError);
    expect((failure as Error).message).toContain(lock);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    expect(probe.calls).toBe(0);
    expect(await readFile(registry)).toEqual(before);

    await writeFile(release, '');
    await expectExit(holder);
    // Once bash let go, the same call goes through.
    await updateRegistry(registry, append('after-release', registry), { timeoutMs: 5_000 });
    expect(await names(registry)).toEqual(['after-release']);
  });

  it('bash `flock -xn` cannot take the lock while acquireLock holds it, and can after release', async () => {
    await mkdir(path.dirname(registry), { recursive: true });
    const probe = (): Promise<Exit> => bash(`flock -xn "$LOCK" -c true`, { LOCK: lock }).exit;

    const held = await acquireLock(lock);
    let whileHeld: Exit;
    try {
      whileHeld = await probe();
      // A blocking bash flock with a short wait times out too.
      expect(await bash(`flock -x -w 0.2 "$LOCK" -c true`, { LOCK: lock }).exit).toEqual({ code: 1, signal: null });
    } finally {
      await held.release();
    }
    expect(whileHeld).toEqual({ code: 1, signal: null });
    expect(await probe()).toEqual({ code: 0, signal: null });
  });

  it('never renames the lock file: its inode stays while the registry is replaced on every write', async () => {
    await updateRegistry(registry, append('w-0', registry));
    const lockInode = (await stat(lock)).ino;
    let registryInode = (await stat(registry)).ino;
    for (let i = 1; i <= 5; i++) {
      await updateRegistry(registry, append(`w-${i}`, registry));
      const now = (await stat(registry)).ino;
      expect(now, `write ${i} replaced the registry`).not.toBe(registryInode);
      expect((await stat(lock)).ino, `write ${i} kept the lock file`).toBe(lockInode);
      registryInode = now;
    }
    expect(await names(registry)).toEqual(['w-0', 'w-1', 'w-2', 'w-3', 'w-4', 'w-5']);
    expect(await tempFiles(registry)).toEqual([]);
  });
});

describe('concurrent writers', () => {
  it('4 node writers × 15 and 2 bash writers × 10 lose nothing, and a reader never sees a partial file', async () => {
    await sandbox.writeRegistry('# shared by mam and bash scripts\ntmux_sessions:\n');

    // A reader parsing the file continuously for the whole run, without any lock.
    let reading = true;
    const reads: { count: number; invalid: number; endsWithNewline: boolean }[] = [];
    const readErrors: unknown[] = [];
    const reader = (async () => {
      while (reading) {
        try {
          const text = await readFile(registry, 'utf8');
          const parsed = parseRegistry(registry, text);
          reads.push({ count: parsed.entries.length, invalid: parsed.invalid.length, endsWithNewline: text.endsWith('\n') });
        } catch (error) {
          readErrors.push(error);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const nodeWriters = ['node-a', 'node-b', 'node-c', 'node-d'].map((prefix) => writer(registry, prefix, 15));
    // tsx takes a while to start; let the bash writers go once every node writer is about to write.
    await until(() => nodeWriters.every((proc) => proc.lines().includes('ready')), 'node writers to start', 120_000);
    const bashScript = `
      for i in $(seq 0 $((COUNT - 1))); do
        export NAME="$PREFIX-$i"
        flock "$REG.lock" -c '
          set -e
          tmp="$REG.bash-tmp-$PREFIX"
          cp "$REG" "$tmp"
          printf "  - name: %s\\n    agent: claude\\n    workspace: %s\\n    status: running\\n" "$NAME" "$WS/$NAME" >> "$tmp"
          mv "$tmp" "$REG"
        '
      done`;
    const bashWriters = ['bash-a', 'bash-b'].map((prefix) =>
      bash(bashScript, { REG: registry, PREFIX: prefix, COUNT: '10', WS: path.join(sandbox.root, 'workspaces') }),
    );

    for (const proc of [...nodeWriters, ...bashWriters]) await expectExit(proc);
    reading = false;
    await reader;

    const expected = [
      ...['node-a', 'node-b', 'node-c', 'node-d'].flatMap((prefix) => Array.from({ length: 15 }, (_, i) => `${prefix}-${i}`)),
      ...['bash-a', 'bash-b'].flatMap((prefix) => Array.from({ length: 10 }, (_, i) => `${prefix}-${i}`)),
    ];
    const final = await readRegistry(registry);
    expect(final.invalid).toEqual([]);
    const got = final.entries.map((entry) => entry.name);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort()).toEqual([...expected].sort());
    expect(got).toHaveLength(80);
    expect(await readFile(registry, 'utf8')).toMatch(/^# shared by mam and bash scripts\n/);

    expect(readErrors).toEqual([]);
    expect(reads.length).toBeGreaterThan(20);
    // Intermediate states were observed, each whole: entries only ever grow, none is cut short.
    expect(new Set(reads.map((read) => read.count)).size).toBeGreaterThan(3);
    for (let i = 0; i < reads.length; i++) {
      const read = reads[i]!;
      expect(read.invalid, `read ${i}`).toBe(0);
      expect(read.endsWithNewline, `read ${i}`).toBe(true);
      if (i > 0) expect(read.count, `read ${i}`).toBeGreaterThanOrEqual(reads[i - 1]!.count);
    }
  });
});

describe('writers killed with SIGKILL', () => {
  const BIG = 100_000;

  it('leave a parseable registry of complete writes, and their temp files go with the next write', async () => {
    await sandbox.writeRegistry('tmux_sessions:\n');
    const killedWriters: { prefix: string; wrote: string[] }[] = [];
    const sweepNames: string[] = [];
    let roundsWithStaleTemp = 0;
    let round = 0;

    // At least 4 rounds, and on until some kill has provably landed between temp-file create and rename.
    while (round < 4 || (roundsWithStaleTemp === 0 && round < 20)) {
      const randomPrefix = `r${round}-random`;
      const midWritePrefix = `r${round}-midwrite`;
      const randomWriter = writer(registry, randomPrefix, 50, BIG);
      const midWriteWriter = writer(registry, midWritePrefix, 50, BIG);
      await until(() => [randomWriter, midWriteWriter].every((proc) => proc.lines().includes('ready')), 'big writers to start', 120_000);

      // The file must really be big, so that writes are long: on a loaded machine a writer killed before its first
      // write would leave it small for every round. One complete write of the random writer first, then…
      await until(() => writtenNames(randomWriter).length > 0 || randomWriter.child.exitCode !== null, 'a first big write', 120_000);
      // …it dies at a random moment (maybe waiting for the lock, maybe holding it)…
      const randomKill = new Promise<void>((resolve) => {
        setTimeout(() => {
          randomWriter.child.kill('SIGKILL');
          resolve();
        }, Math.random() * 400);
      });
      // …the other as soon as its temp file exists, i.e. in the middle of writing it.
      const ownTemp = `.${path.basename(registry)}.tmp-${midWriteWriter.pid}-`;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && midWriteWriter.child.exitCode === null) {
        if ((await readdir(path.dirname(registry))).some((name) => name.startsWith(ownTemp))) break;
      }
      midWriteWriter.child.kill('SIGKILL');
      await randomKill;
      await expectExit(randomWriter, { code: null, signal: 'SIGKILL' });
      await expectExit(midWriteWriter, { code: null, signal: 'SIGKILL' });
      killedWriters.push({ prefix: randomPrefix, wrote: writtenNames(randomWriter) });
      killedWriters.push({ prefix: midWritePrefix, wrote: writtenNames(midWriteWriter) });

      // Right after the kill: the file parses and holds only complete writes.
      await expectCompleteWrites(registry, killedWriters, sweepNames, BIG);

      // The next successful write clears whatever temp files the dead writers left.
      const stale = await tempFiles(registry);
      if (stale.length > 0) roundsWithStaleTemp++;
      const sweep = `sweep-${round}`;
      await updateRegistry(registry, append(sweep, registry), { timeoutMs: 10_000 });
      sweepNames.push(sweep);
      expect(await tempFiles(registry), `round ${round}: stale ${stale.join(', ')}`).toEqual([]);
      await expectCompleteWrites(registry, killedWriters, sweepNames, BIG);
      round++;
    }
    expect(roundsWithStaleTemp, 'no kill landed mid-write in 20 rounds').toBeGreaterThan(0);
    // The file really was big, so the writes were long.
    expect((await stat(registry)).size).toBeGreaterThan(200_000);
  });

  function writtenNames(proc: Proc): string[] {
    return proc
      .lines()
      .filter((line) => line.startsWith('wrote '))
      .map((line) => line.slice('wrote '.length));
  }

  async function expectCompleteWrites(
    file: string,
    writers: readonly { prefix: string; wrote: readonly string[] }[],
    sweeps: readonly string[],
    big: number,
  ): Promise<void> {
    const parsed = await readRegistry(file); // throws on a torn file
    expect(parsed.invalid).toEqual([]);
    const present = parsed.entries.map((entry) => entry.name);
    expect(new Set(present).size).toBe(present.length);
    const known = new Set(sweeps);
    for (const { prefix, wrote } of writers) {
      // A writer appends <prefix>-0, -1, … in order, so its entries are a prefix of that sequence that
      // includes every write it reported (plus at most the one renamed just before it died).
      const own = present.filter((name) => name.startsWith(`${prefix}-`));
      expect(own, prefix).toEqual(Array.from({ length: own.length }, (_, i) => `${prefix}-${i}`));
      expect(own.slice(0, wrote.length), prefix).toEqual(wrote);
      expect(own.length - wrote.length, prefix).toBeLessThanOrEqual(1);
      for (const name of own) known.add(name);
    }
    for (const entry of parsed.entries) {
      expect(known.has(entry.name), `unexpected entry ${entry.name}`).toBe(true);
      if (!sweeps.includes(entry.name)) expect(entry['padding'] === bigPadding(entry.name, big), `${entry.name} padding intact`).toBe(true);
    }
  }
});

describe('a registry that cannot be read is never written', () => {
  it('malformed YAML: RegistryError with file:line:col, bytes untouched', async () => {
    const bad = 'tmux_sessions:\n  - name: a\n    agent: [claude\n    status: running\n';
    await sandbox.writeRegistry(bad);
    const before = await readFile(registry);
    const inode = (await stat(registry)).ino;
    const probe = untouchable();

    const failure = await updateRegistry(registry, probe.mutate).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryError);
    const escaped = registry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect((failure as Error).message).toMatch(new RegExp(`^${escaped}:\\d+:\\d+: invalid YAML`));
    expect(probe.calls).toBe(0);
    expect(await readFile(registry)).toEqual(before);
    expect((await stat(registry)).ino).toBe(inode);
    expect(await tempFiles(registry)).toEqual([]);
  });

  it('non-UTF-8 bytes: RegistryError saying so, bytes untouched', async () => {
    const bytes = Buffer.concat([
      Buffer.from('tmux_sessions:\n  - name: caf'),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('\n    agent: claude\n    workspace: /w\n    status: running\n'),
    ]);
    await sandbox.writeRegistry('');
    await writeFile(registry, bytes);
    const inode = (await stat(registry)).ino;
    const probe = untouchable();

    await expect(readRegistry(registry)).rejects.toThrow(/not valid UTF-8/);
    const failure = await updateRegistry(registry, probe.mutate).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryError);
    expect((failure as Error).message).toBe(`${registry}: is not valid UTF-8 text`);
    expect(probe.calls).toBe(0);
    expect(await readFile(registry)).toEqual(bytes);
    expect((await stat(registry)).ino).toBe(inode);
  });

  it('a directory at the registry path: RegistryError "is a directory"', async () => {
    await mkdir(registry, { recursive: true });
    const probe = untouchable();
    const read = await readRegistry(registry).catch((error: unknown) => error);
    expect(read).toBeInstanceOf(RegistryError);
    expect((read as Error).message).toMatch(/is a directory/);
    const update = await updateRegistry(registry, probe.mutate).catch((error: unknown) => error);
    expect(update).toBeInstanceOf(RegistryError);
    expect((update as Error).message).toMatch(/is a directory/);
    expect(probe.calls).toBe(0);
    expect((await stat(registry)).isDirectory()).toBe(true);
  });

  const unreadable = unreadablePlan();
  (unreadable.skip === undefined ? it : it.skip)(
    `an unreadable registry file: RegistryError "permission denied"${unreadable.skip ? ` (skipped: ${unreadable.skip})` : ''}`,
    async () => {
      const text = 'tmux_sessions:\n  - name: a\n    agent: claude\n    workspace: /w\n    status: running\n';
      await sandbox.writeRegistry(text);

      if (unreadable.mode === 'chmod') {
        await chmod(registry, 0o000);
        const probe = untouchable();
        const read = await readRegistry(registry).catch((error: unknown) => error);
        expect(read).toBeInstanceOf(RegistryError);
        expect((read as Error).message).toMatch(/permission denied/);
        const update = await updateRegistry(registry, probe.mutate).catch((error: unknown) => error);
        expect(update).toBeInstanceOf(RegistryError);
        expect((update as Error).message).toMatch(/permission denied/);
        expect(probe.calls).toBe(0);
        await chmod(registry, 0o644);
        expect(await readFile(registry, 'utf8')).toBe(text);
        return;
      }

      // Root reads anything, so the read runs in a child process as nobody.
      const script = path.join(sandbox.root, 'read-as-nobody.mts');
      await writeFile(
        script,
        `import { readRegistry, updateRegistry } from ${JSON.stringify(pathToFileURL(STORE_TS).href)};
const report = async (run: () => Promise<unknown>) => {
  try { await run(); return { ok: true }; }
  catch (error) { return { ok: false, name: (error as Error).name, message: (error as Error).message }; }
};
const file = process.argv[2]!;
const read = await report(async () => (await readRegistry(file)).entries.length);
const update = await report(() => updateRegistry(file, () => ({ changed: true, result: undefined }), { timeoutMs: 5_000 }));
console.log(JSON.stringify({ read, update }));
`,
      );
      const nobodyTmp = path.join(sandbox.root, 'nobody-tmp');
      await mkdir(nobodyTmp);
      // Traversable for nobody; the lock file is writable for it, so only the registry read can fail.
      for (const dir of [sandbox.root, path.dirname(registry)]) await chmod(dir, 0o755);
      await chmod(script, 0o644);
      await chown(nobodyTmp, NOBODY, NOBODY);
      await writeFile(lock, '');
      await chmod(lock, 0o666);

      const asNobody = (): { read: { ok: boolean; name?: string; message?: string }; update: { ok: boolean; name?: string; message?: string } } => {
        const result = spawnSync(process.execPath, ['--import', 'tsx', script, registry], {
          cwd: REPO,
          uid: NOBODY,
          gid: NOBODY,
          env: { PATH: process.env['PATH'], HOME: nobodyTmp, TMPDIR: nobodyTmp, LANG: 'C.UTF-8' },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(result.status, result.stderr).toBe(0);
        return JSON.parse(result.stdout.trim()) as ReturnType<typeof asNobody>;
      };

      // The same child can read the file while it is readable: the failure below is the mode, nothing else.
      await chmod(registry, 0o644);
      expect(asNobody().read).toEqual({ ok: true });

      await chmod(registry, 0o000);
      const { read, update } = asNobody();
      expect(read).toMatchObject({ ok: false, name: 'RegistryError' });
      expect(read.message).toMatch(/permission denied/);
      expect(update).toMatchObject({ ok: false, name: 'RegistryError' });
      expect(update.message).toMatch(/permission denied/);
      expect(await readFile(registry, 'utf8')).toBe(text);
    },
  );
});

describe('a registry that does not exist yet', () => {
  it('reads as empty, and the first write creates the directory and the file', async () => {
    const file = path.join(sandbox.root, 'not', 'yet', 'agent-sessions.yaml');
    const empty = await readRegistry(file);
    expect(empty.entries).toEqual([]);
    expect(empty.invalid).toEqual([]);
    expect(await exists(path.dirname(file))).toBe(false);

    await updateRegistry(file, append('first', file));
    expect(await exists(lockFileOf(file))).toBe(true);
    expect(await names(file)).toEqual(['first']);
    expect(await readFile(file, 'utf8')).toMatch(/^tmux_sessions:\n {2}- name: first\n/);
  });
});

/** How this run can make a registry file unreadable to the reader, or why it cannot. */
function unreadablePlan(): { mode?: 'chmod' | 'nobody'; skip?: string } {
  const plan = ((): { mode?: 'chmod' | 'nobody'; skip?: string } => {
    if (typeof process.getuid !== 'function') return { skip: 'no POSIX uids on this platform' };
    if (process.getuid() !== 0) return { mode: 'chmod' };
    const probe = spawnSync(process.execPath, ['-e', '0'], { uid: NOBODY, gid: NOBODY, cwd: REPO, encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      return { skip: `running as root and cannot start a process as nobody (${probe.error?.message ?? probe.stderr.trim()})` };
    }
    return { mode: 'nobody' };
  })();
  if (plan.skip) console.warn(`store.test.ts: skipping the unreadable-registry test: ${plan.skip}`);
  return plan;
}

describe('a registry that is a symlink', () => {
  it('is written through: the link stays, the file it points to gets the change, the lock is <given path>.lock', async () => {
    // A registry kept in a dotfiles repository and linked into place.
    const target = path.join(sandbox.root, 'dotfiles', 'agent-sessions.yaml');
    await sandbox.writeRegistry('# kept in dotfiles\ntmux_sessions:\n', target);
    await mkdir(path.dirname(registry), { recursive: true });
    await symlink(path.relative(path.dirname(registry), target), registry);
    const link = await readlink(registry);

    await updateRegistry(registry, append('through', registry));

    expect((await lstat(registry)).isSymbolicLink()).toBe(true);
    expect(await readlink(registry)).toBe(link);
    expect(await readFile(target, 'utf8')).toMatch(/^# kept in dotfiles\ntmux_sessions:\n {2}- name: through\n/);
    expect(await names(registry)).toEqual(['through']);
    expect(await exists(lock)).toBe(true);
    expect(await tempFiles(registry)).toEqual([]);
    expect(await tempFiles(target)).toEqual([]);
  });

  it('that dangles gets its file created where it points, not replaced by one', async () => {
    const target = path.join(sandbox.root, 'elsewhere', 'agent-sessions.yaml');
    await mkdir(path.dirname(target), { recursive: true });
    await mkdir(path.dirname(registry), { recursive: true });
    await symlink(target, registry);

    await updateRegistry(registry, append('first', registry));

    expect((await lstat(registry)).isSymbolicLink()).toBe(true);
    expect(await names(target)).toEqual(['first']);
  });
});

describe('temp files of writers that died', () => {
  /** A pid that was a process a moment ago and is now gone (reaped). */
  function deadPid(): number {
    const done = spawnSync('true');
    if (done.pid === undefined || done.pid <= 0) throw new Error('could not start `true`');
    return done.pid;
  }

  it('go with the next locked write even when it changes nothing; a live writer\'s stays', async () => {
    await sandbox.writeRegistry('tmux_sessions:\n');
    const before = await readFile(registry, 'utf8');
    const prefix = `.${path.basename(registry)}.tmp-`;
    const dead = `${prefix}${deadPid()}-0123456789ab`;
    const live = `${prefix}${process.pid}-ba9876543210`;
    const foreign = `${prefix}not-a-pid`;
    for (const name of [dead, live, foreign]) await writeFile(path.join(path.dirname(registry), name), 'x'.repeat(1000));

    await updateRegistry(registry, () => ({ changed: false, result: undefined }));

    expect((await tempFiles(registry)).sort()).toEqual([foreign, live].sort());
    expect(await readFile(registry, 'utf8')).toBe(before);
  });

  it('a write that fails leaves no temp file behind', async () => {
    // Renaming a file over a directory fails after the temp file was written in full.
    const directory = path.join(sandbox.root, 'registry', 'a-directory');
    await mkdir(directory, { recursive: true });
    await expect(writeFileAtomic(directory, 'tmux_sessions:\n')).rejects.toThrow();
    expect(await tempFiles(directory)).toEqual([]);
  });
});
