/**
 * Reading one agent hook payload from stdin. Kept free of imports: it is part of `mam-hook`, whose start-up is
 * its cost (bench/hook.bench.ts).
 *
 * Agents may keep stdin open after writing the payload, so the reader stops as soon as it holds one whole JSON
 * object. Whether it does is decided by a byte scanner that follows strings, escapes and nesting, one pass over
 * the bytes: parsing everything read so far after every chunk (what this did before) costs O(n²) and made a
 * bound of 1 MB necessary — and a PostToolUse with a bigger tool_response was then dropped, leaving its tool
 * "working" until the turn's Stop.
 */

/** Payloads up to this size are read and parsed whole (a 64 MB JSON.parse takes well under a second). */
export const PAYLOAD_LIMIT_BYTES = 64 * 1024 * 1024;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Finds where a JSON object that arrives in chunks closes. It checks structure only (strings, escapes,
 * nesting); JSON.parse judges the rest. UTF-8 continuation bytes are all ≥ 0x80, so scanning bytes cannot
 * mistake part of a character for a quote or a brace.
 */
export class JsonObjectScanner {
  state: 'start' | 'object' | 'complete' | 'not-object' = 'start';
  /** Just past the object's closing brace, counted over every byte pushed; -1 until it closes. */
  end = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private offset = 0;

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length && (this.state === 'start' || this.state === 'object'); i++) {
      const byte = chunk[i]!;
      if (this.state === 'start') {
        if (isSpace(byte)) continue;
        if (byte !== OPEN_BRACE) {
          this.state = 'not-object';
          break;
        }
        this.state = 'object';
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          continue;
        }
        // Large payloads are mostly string (a tool's output): jump to the string's end with the native search.
        i = this.stringEnd(chunk, i);
        continue;
      }
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth += 1;
      else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --this.depth === 0) {
        this.state = 'complete';
        this.end = this.offset + i + 1;
      }
    }
    this.offset += chunk.length;
  }

  /**
   * Inside a string at `from` (not escaped): the index of its closing quote, with inString cleared; or the
   * chunk's last index, with `escaped` set when the chunk ends in an odd run of backslashes. A quote is
   * escaped when an odd run of backslashes precedes it (within this chunk: a run reaching `from` started
   * unescaped, as `from` is).
   */
  private stringEnd(chunk: Uint8Array, from: number): number {
    let at = from;
    for (;;) {
      const quote = chunk.indexOf(QUOTE, at);
      const stop = quote === -1 ? chunk.length : quote;
      let run = 0;
      while (stop - run - 1 >= from && chunk[stop - run - 1] === BACKSLASH) run += 1;
      if (quote === -1) {
        this.escaped = run % 2 === 1;
        return chunk.length - 1;
      }
      if (run % 2 === 0) {
        this.inString = false;
        return quote;
      }
      at = quote + 1;
    }
  }
}

export class HookPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HookPayloadError';
  }
}

export interface ReadPayloadOptions {
  /** Give up on a stdin that sends nothing for this long without closing or completing an object. */
  readonly idleMs: number;
  /** …or that is still sending after this long (a large payload on a busy machine takes seconds). */
  readonly maxMs: number;
  readonly maxBytes?: number;
}

/**
 * Resolves with the text of the one JSON object on `input` (anything after its closing brace is ignored),
 * or rejects with a HookPayloadError that says what was wrong: empty, not an object, truncated (stdin closed
 * or went quiet before the object closed — never parsed, so a cut payload is not mistaken for a whole one), or
 * larger than `maxBytes`. An oversized payload is drained, not stored, until stdin closes or the time is up, so
 * the agent writing it does not get EPIPE. A stream, not fs.read on fd 0: agents hand hooks a socket, and a read
 * still pending in the thread pool keeps even process.exit() from returning.
 */
export function readHookPayload(input: NodeJS.ReadableStream & { destroy(): void }, options: ReadPayloadOptions): Promise<string> {
  const maxBytes = options.maxBytes ?? PAYLOAD_LIMIT_BYTES;
  return new Promise((resolve, reject) => {
    const scanner = new JsonObjectScanner();
    let chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let finished = false;
    const started = Date.now();
    const finish = (how: 'complete' | 'end' | 'timeout' | 'error'): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      input.removeListener('data', onData);
      input.destroy();
      if (tooLarge) return reject(new HookPayloadError(`hook payload is larger than ${mb(maxBytes)} (${size} bytes read${how === 'end' ? '' : ', stdin still open'}); not recorded`));
      if (scanner.state === 'complete') return resolve(Buffer.concat(chunks).subarray(0, scanner.end).toString('utf8'));
      const text = Buffer.concat(chunks).toString('utf8');
      if (scanner.state === 'not-object') return reject(new HookPayloadError(`hook payload is not a JSON object (starts with ${JSON.stringify(text.trimStart().slice(0, 20))})`));
      const waited = `${Date.now() - started} ms`;
      if (scanner.state === 'start') return reject(new HookPayloadError(how === 'timeout' ? `hook payload is empty: nothing on stdin within ${waited}` : 'hook payload is empty: stdin closed with nothing on it'));
      reject(
        new HookPayloadError(
          how === 'timeout'
            ? `hook payload is truncated: no whole JSON object on stdin within ${waited} (${size} bytes read, stdin still open); not recorded`
            : `hook payload is truncated: stdin closed after ${size} bytes, before the JSON object closed; not recorded`,
        ),
      );
    };
    const onData = (chunk: Buffer | string): void => {
      timer.refresh();
      if (Date.now() - started > options.maxMs) return finish('timeout');
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (tooLarge) return;
      scanner.push(bytes);
      chunks.push(bytes);
      if (scanner.state === 'complete' && scanner.end <= maxBytes) return finish('complete');
      if (size > maxBytes) {
        tooLarge = true;
        chunks = [];
        return;
      }
      // Nothing that follows can make it an object: no need to wait for the rest.
      if (scanner.state === 'not-object') finish('complete');
    };
    const timer = setTimeout(() => finish('timeout'), options.idleMs);
    input.on('data', onData);
    input.once('end', () => finish('end'));
    input.once('error', () => finish('error'));
  });
}

function mb(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MB` : `${bytes} bytes`;
}
