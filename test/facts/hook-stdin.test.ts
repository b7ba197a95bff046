import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonObjectScanner, readHookPayload } from '../../src/facts/hook-stdin.js';

/** Feeds `text` to a scanner cut at `cuts` and says where it thinks the object ends. */
function scan(text: string | Buffer, cuts: readonly number[] = []): { state: string; end: number } {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const scanner = new JsonObjectScanner();
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  return { state: scanner.state, end: scanner.end };
}

function stream(): PassThrough {
  return new PassThrough();
}

describe('JsonObjectScanner', () => {
  const tricky = JSON.stringify({ a: '} { ] [ "quoted" \\ back\\\\slash', é: ['ü', { n: [1, {}] }], s: '\\"}' });

  it('finds the closing brace wherever the chunks are cut, past braces, quotes and escapes inside strings', () => {
    const bytes = Buffer.byteLength(tricky);
    for (let cut = 0; cut <= bytes; cut++) {
      expect(scan(`  ${tricky}\n{"next":1}`, [cut]), `cut at ${cut}`).toEqual({ state: 'complete', end: bytes + 2 });
    }
  });

  it('never calls a cut-short object complete, whatever the cut', () => {
    const bytes = Buffer.byteLength(tricky);
    for (let length = 0; length < bytes; length++) {
      const { state } = scan(Buffer.from(tricky).subarray(0, length));
      expect(state === 'complete', `length ${length}`).toBe(false);
    }
  });

  it('tells a non-object at its first byte', () => {
    expect(scan('  [1]').state).toBe('not-object');
    expect(scan('not json').state).toBe('not-object');
    expect(scan('   ').state).toBe('start');
  });
});

describe('readHookPayload', () => {
  it('resolves as soon as the object is whole, with stdin left open', async () => {
    const input = stream();
    const read = readHookPayload(input, { idleMs: 10_000, maxMs: 60_000 });
    input.write('{"hook_event_name":"Stop",');
    input.write('"session_id":"x"}\n');
    expect(JSON.parse(await read)).toEqual({ hook_event_name: 'Stop', session_id: 'x' });
  });

  it('reads a payload far over the old 1 MB bound', async () => {
    const input = stream();
    const read = readHookPayload(input, { idleMs: 10_000, maxMs: 60_000 });
    const big = JSON.stringify({ hook_event_name: 'PostToolUse', tool_response: { stdout: '}"\\'.repeat(1_000_000) }, tool_use_id: 't' });
    for (let at = 0; at < big.length; at += 65_536) input.write(big.slice(at, at + 65_536));
    expect(JSON.parse(await read)).toMatchObject({ hook_event_name: 'PostToolUse', tool_use_id: 't' });
  });

  it('rejects, without parsing, a payload cut short by a closed stdin or by the time limit', async () => {
    const closed = stream();
    const cut = readHookPayload(closed, { idleMs: 10_000, maxMs: 60_000 });
    closed.end('{"hook_event_name":"PostToolUse","session_id":"x","tool_response":"abc');
    await expect(cut).rejects.toThrow(/hook payload is truncated: stdin closed after 70 bytes/);

    // Nothing arrives after the write, so only the idle timer can end this read (maxMs is checked as data comes
    // in): without it the read would hang until the test's own timeout. It waited out idleMs, not less.
    const quiet = stream();
    const timedOut = readHookPayload(quiet, { idleMs: 200, maxMs: 60_000 });
    quiet.write('{"session_id":"x"');
    const error = await timedOut.then(
      () => expect.unreachable('a truncated payload resolved'),
      (thrown: unknown) => thrown as Error,
    );
    expect(error.message).toMatch(/^hook payload is truncated: no whole JSON object on stdin within \d+ ms \(17 bytes read, stdin still open\); not recorded$/);
    expect(Number(/within (\d+) ms/.exec(error.message)?.[1])).toBeGreaterThanOrEqual(190);
  });

  it('gives up on a payload still trickling in after maxMs, even though stdin never goes quiet', async () => {
    const input = stream();
    const read = readHookPayload(input, { idleMs: 10_000, maxMs: 300 });
    const trickle = setInterval(() => input.write('"ab",'), 20);
    input.write('{"k":[');
    try {
      await expect(read).rejects.toThrow(/hook payload is truncated: no whole JSON object on stdin within \d+ ms/);
    } finally {
      clearInterval(trickle);
    }
  });

  it('rejects an oversized payload after draining it, and says empty or not-an-object for those', async () => {
    const input = stream();
    const read = readHookPayload(input, { idleMs: 10_000, maxMs: 60_000, maxBytes: 1_000 });
    input.write(`{"a":"${'x'.repeat(2_000)}`);
    input.write(`${'y'.repeat(2_000)}"}`);
    input.end();
    await expect(read).rejects.toThrow(/hook payload is larger than 1000 bytes \(4008 bytes read\); not recorded/);

    const empty = stream();
    const nothing = readHookPayload(empty, { idleMs: 10_000, maxMs: 60_000 });
    empty.end();
    await expect(nothing).rejects.toThrow(/hook payload is empty/);

    const garbage = stream();
    const notObject = readHookPayload(garbage, { idleMs: 10_000, maxMs: 60_000 });
    garbage.end('not json');
    await expect(notObject).rejects.toThrow(/hook payload is not a JSON object/);
  });
});
