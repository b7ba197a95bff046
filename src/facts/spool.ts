import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { signalable } from '../proc/tree.js';
import { errorMessage } from '../util/errors.js';
import { removeIfPresent } from '../util/files.js';
import { HookPayloadError, JsonObjectScanner, PAYLOAD_LIMIT_BYTES } from './hook-stdin.js';
import { hookOrigin, logError, recordConversation, recordHook, type HookOrigin, type Recorded } from './hook.js';
import { headerNumber, SPOOL_MAGIC, spoolHeader, spoolNames } from './spool-file.js';

/**
 * The fast hook's hand-over (src/facts/mam-hook.sh writes, the watcher reads): `<status dir>/spool/<clock>-<pid>[.<event>]`,
 * one file per hook call, renamed into place once whole from a dot-named temp file. `<clock>` is the boot clock in
 * 1/100 s when the hook ran and `<pid>` the hook's, so sorting by both numbers gives the order the hooks ran in —
 * which is the order a session's payloads are recorded in (an agent runs a session's hooks one after another).
 *
 * A file is a NUL-separated header — `mam-hook-spool 1`, then `key=value` fields: agent, pid and start (the agent
 * process; start empty when unknown), ppid, MAM_SESSION, MAM_REGISTRY, TMUX, TMUX_PANE — an empty field, then the
 * payload exactly as the agent wrote it. A file is removed only once recorded (or refused), so a watcher killed
 * mid-read reads it again on its next start: the last payload may be applied twice, which leaves the same facts.
 */
export const SPOOL_DIR = 'spool';
const TEMP = /^\.(\d+)-(\d+)(?:\.[A-Za-z]+)?\.tmp$/;
/** A temp file whose hook is still alive is being written; past this age it is dropped anyway (pid reused). */
const TEMP_STALE_MS = 10 * 60_000;
/** A payload that fails for another reason than its content (a lock held too long) is retried until this old. */
const RETRY_FOR_MS = 60_000;

export function spoolDir(statusDir: string): string {
  return path.join(statusDir, SPOOL_DIR);
}

/** The payload files waiting in `spool`, oldest hook first; temp files are not among them. */
export function pendingSpool(spool: string): string[] {
  return spoolNames(spool).map((entry) => entry.name);
}

export interface SpoolEntry {
  readonly origin: Omit<HookOrigin, 'now'>;
  readonly payload: string;
}

/** One spool file's bytes → who ran the hook and the payload's JSON text (the first whole object). */
export function parseSpoolFile(bytes: Buffer): SpoolEntry {
  const split = spoolHeader(bytes);
  if (!split) throw new HookPayloadError('spool file has no header (not written by mam-hook.sh)');
  if (split.magic !== SPOOL_MAGIC) throw new HookPayloadError(`spool file is not in a format this mam reads (${JSON.stringify(split.magic.slice(0, 40))})`);
  const header = split.fields;
  const body = bytes.subarray(split.bodyStart);
  if (body.length > PAYLOAD_LIMIT_BYTES) throw new HookPayloadError(`hook payload is larger than ${PAYLOAD_LIMIT_BYTES / (1024 * 1024)} MB (${body.length} bytes); not recorded`);
  const scanner = new JsonObjectScanner();
  scanner.push(body);
  if (scanner.state === 'start') throw new HookPayloadError('hook payload is empty: stdin closed with nothing on it');
  if (scanner.state === 'not-object') throw new HookPayloadError(`hook payload is not a JSON object (starts with ${JSON.stringify(body.toString('utf8').trimStart().slice(0, 20))})`);
  if (scanner.state !== 'complete') throw new HookPayloadError(`hook payload is truncated: stdin closed after ${body.length} bytes, before the JSON object closed; not recorded`);
  const number = (key: string): number | undefined => headerNumber(header, key);
  const env = { MAM_SESSION: header.get('MAM_SESSION'), MAM_REGISTRY: header.get('MAM_REGISTRY'), TMUX: header.get('TMUX'), TMUX_PANE: header.get('TMUX_PANE') };
  const pid = number('pid');
  const start = number('start');
  const agent = header.get('agent') || 'claude';
  const origin = hookOrigin(env, agent, pid !== undefined && start !== undefined ? { pid, start } : undefined, number('ppid') ?? pid ?? 0);
  return { origin, payload: body.subarray(0, scanner.end).toString('utf8') };
}

export interface ConsumeOptions {
  /** The status directory. */
  readonly dir: string;
  readonly lockMs: number;
  /** Told about each payload recorded, in order, with its spool file's name. */
  readonly recorded: (recorded: Recorded, name: string) => void;
  /** Problems that are not one payload's (kept for later, retried): the watcher's log. */
  readonly warn: (message: string, error: unknown) => void;
  /**
   * Asked before each file: true ends the pass there. A watcher that has given up `watch.pid` stops, so it never
   * records a session's payloads beside the watcher that took its place (the two could interleave them).
   */
  readonly stop?: () => boolean;
}

/**
 * Records every payload waiting in the spool, oldest first, removing each once recorded. A payload that cannot be
 * recorded for its content (not JSON, no session id, truncated) is logged to hook-errors.log, as `mam hook` does, and
 * removed; one that fails otherwise stops the pass (what follows it may be the same session's) and is retried by the
 * next, for at most RETRY_FOR_MS. Resolves with how many files it took. Never run two at once on one directory.
 */
export async function consumeSpool(options: ConsumeOptions): Promise<number> {
  const spool = spoolDir(options.dir);
  let taken = 0;
  for (const name of pendingSpool(spool)) {
    if (options.stop?.()) return taken;
    const file = path.join(spool, name);
    let bytes: Buffer;
    let now: number;
    try {
      now = statSync(file).mtimeMs;
      bytes = readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      options.warn(`cannot read ${file}; retried on the next sweep`, error);
      return taken;
    }
    try {
      const entry = parseSpoolFile(bytes);
      options.recorded(await recordHook(options.dir, entry.payload, { ...entry.origin, now: Math.round(now) }, options.lockMs), name);
    } catch (error) {
      if (!(error instanceof HookPayloadError) && Date.now() - now < RETRY_FOR_MS) {
        options.warn(`recording ${file} failed; retried on the next sweep`, error);
        return taken;
      }
      logError(options.dir, process.stderr, `${errorMessage(error)} (spool file ${name})`);
    }
    removeIfPresent(file);
    taken += 1;
  }
  return taken;
}

/** Temp files whose hook died mid-write (the agent was killed, or killed its hook): never read, removed. */
export function sweepSpoolTemps(statusDir: string): void {
  const spool = spoolDir(statusDir);
  let names: string[];
  try {
    names = readdirSync(spool);
  } catch {
    return;
  }
  for (const name of names) {
    const match = TEMP.exec(name);
    if (!match) continue;
    const file = path.join(spool, name);
    const age = Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (!signalable(Number(match[2])) || age > TEMP_STALE_MS) removeIfPresent(file);
  }
}

/**
 * The registry writes SessionStart asks for, one after another and off the spool's path (a registry lock can take
 * seconds; the next payloads, often another session's, should not wait for it). Problems go to hook-errors.log.
 */
export function conversationWriter(dir: string, lockMs: number): { add(recorded: Recorded): void; idle(): Promise<void> } {
  let chain: Promise<void> = Promise.resolve();
  return {
    add(recorded) {
      const { started, origin } = recorded;
      if (!started || !origin.mamSession) return;
      const session = origin.mamSession;
      chain = chain.then(() =>
        recordConversation(origin.registry, session, origin.agent, started.sessionId, lockMs).catch((error: unknown) => logError(dir, process.stderr, `recording the conversation id of ${session}: ${errorMessage(error)}`)),
      );
    },
    idle: () => chain,
  };
}
