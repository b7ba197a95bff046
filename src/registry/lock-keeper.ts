import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { LockTimeoutError, MamError } from '../util/errors.js';
import { withLock, type LockOptions } from './lock.js';

/**
 * The same exclusive flock(2) as lock.ts — so bash's `flock <file>` and every other `mam` writer are excluded just
 * the same — for a resident process that takes one lock many times a second (the job daemon, src/jobs/daemon.ts).
 * lock.ts forks util-linux `flock` per acquisition, and forking a ~100 MB Node process costs 10–40 ms on a loaded
 * machine: a quarter of the daemon's CPU (BENCHMARKS.md, the jobs section). Here one small `perl` per lock file,
 * started once, holds the file open and calls flock(2) itself on request — a pipe round trip, ~0.4 ms — so the lock
 * belongs to that helper's open file. The helper reads its requests from our pipe: when this process dies, the pipe
 * closes, the helper exits and the lock goes with it, so a killed daemon never leaves a jobs directory locked. Where
 * no `perl` runs, or its helper fails, each acquisition falls back to lock.ts.
 *
 * docs/jobs.md, 'The job daemon', says why this and not the alternatives (measured there).
 */
export interface LockKeeper {
  withLock<T>(file: string, critical: () => Promise<T>, options?: LockOptions): Promise<T>;
  /** Lets every helper go (they hold no lock between calls). */
  close(): void;
}

/** flock(2) on request: `L` locks, `U` unlocks; each answered by one line. Exits at end of input. */
const HELPER = [
  'use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT); $| = 1;',
  'sysopen(my $f, $ARGV[0], O_WRONLY | O_APPEND | O_CREAT, 0644) or do { print "error $!\\n"; exit 1 };',
  'print "ready\\n";',
  'while (my $op = <STDIN>) {',
  '  if ($op =~ /^L/) { flock($f, LOCK_EX) or do { print "error $!\\n"; exit 1 }; print "locked\\n" }',
  '  else { flock($f, LOCK_UN); print "unlocked\\n" }',
  '}',
].join('\n');

/** A helper unused this long exits; the next acquisition starts another. */
const IDLE_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;

interface Helper {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the next line the helper prints; undefined when it is gone. */
  next(): Promise<string | undefined>;
  /** Serialises this file's acquisitions within this process. */
  queue: Promise<unknown>;
  idle?: NodeJS.Timeout;
}

export function lockKeeper(perl = 'perl'): LockKeeper {
  const helpers = new Map<string, Promise<Helper | undefined>>();
  let perlMissing = false;

  const drop = (file: string, helper: Helper): void => {
    helpers.delete(file);
    if (helper.idle) clearTimeout(helper.idle);
    helper.child.stdin.end();
    if (helper.child.exitCode === null) helper.child.kill('SIGKILL');
  };

  const start = (file: string): Promise<Helper | undefined> => {
    const existing = helpers.get(file);
    if (existing) return existing;
    const started = spawnHelper(perl, file).then(
      (helper) => {
        if (!helper) helpers.delete(file);
        else helper.child.once('exit', () => helpers.get(file) === started && helpers.delete(file));
        return helper;
      },
      (error: unknown) => {
        helpers.delete(file);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') perlMissing = true;
        return undefined;
      },
    );
    helpers.set(file, started);
    return started;
  };

  return {
    async withLock(file, critical, options = {}) {
      const helper = perlMissing ? undefined : await start(file);
      if (!helper) return withLock(file, critical, options);
      const turn = helper.queue.then(() => holding(file, helper, critical, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => drop(file, helper)));
      helper.queue = turn.catch(() => undefined);
      if (helper.idle) clearTimeout(helper.idle);
      return turn.finally(() => {
        if (helpers.get(file) === undefined) return;
        if (helper.idle) clearTimeout(helper.idle);
        helper.idle = setTimeout(() => drop(file, helper), IDLE_MS);
        helper.idle.unref();
      });
    },
    close() {
      for (const [file, pending] of [...helpers]) void pending.then((helper) => helper && drop(file, helper));
    },
  };
}

async function holding<T>(file: string, helper: Helper, critical: () => Promise<T>, timeoutMs: number, drop: () => void): Promise<T> {
  helper.child.stdin.write('L\n');
  let timer: NodeJS.Timeout | undefined;
  const answer = await Promise.race([helper.next(), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  if (answer === 'timeout') {
    // Killing the helper ends its wait; it held nothing.
    drop();
    throw new LockTimeoutError(file, timeoutMs);
  }
  if (answer !== 'locked') {
    drop();
    throw new MamError(`${file}: the lock helper failed (${answer ?? 'it exited'}); try again`);
  }
  try {
    return await critical();
  } finally {
    helper.child.stdin.write('U\n');
    // A helper that died while we held the lock let go of it then; there is nothing more to release.
    if ((await helper.next()) !== 'unlocked') drop();
  }
}

/** A helper holding `file` open, or undefined when it could not open it (lock.ts then says why). */
function spawnHelper(perl: string, file: string): Promise<Helper | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(perl, ['-e', HELPER, file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buffer = '';
    const lines: string[] = [];
    const readers: ((line: string | undefined) => void)[] = [];
    let gone = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        const reader = readers.shift();
        if (reader) reader(line);
        else lines.push(line);
      }
    });
    child.stderr.resume();
    // Our end of a pipe to a helper that died: the write fails, and the helper's exit answers for it.
    child.stdin.on('error', () => undefined);
    child.once('exit', () => {
      gone = true;
      for (const reader of readers.splice(0)) reader(undefined);
    });
    const next = (): Promise<string | undefined> => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (gone) return Promise.resolve(undefined);
      return new Promise((done) => readers.push(done));
    };
    child.once('error', (error) => {
      gone = true;
      for (const reader of readers.splice(0)) reader(undefined);
      reject(error);
    });
    child.once('spawn', () => {
      void next().then((first) => {
        if (first === 'ready') return resolve({ child, next, queue: Promise.resolve() });
        child.kill('SIGKILL');
        resolve(undefined);
      });
    });
  });
}
