import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CLEAR_LINE, formatElapsed, formatProgress, progressLine, SPINNER } from '../../src/util/progress.js';

/** The live progress line: its pure formatting, and what it writes to a terminal and to anything else. */

/** A stream that says it is (or is not) a terminal, and keeps what was written to it. */
function stream(isTTY: boolean, columns = 80): { stream: NodeJS.WritableStream; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  Object.assign(out, { isTTY, columns });
  return { stream: out, text: () => chunks.join('') };
}

describe('formatProgress', () => {
  it('redraws in place: clear the line, spinner, stage, elapsed seconds', () => {
    expect(formatProgress('stopping a: exit keys sent', 3_400, 0, { colour: false })).toBe(`${CLEAR_LINE}${SPINNER[0]} stopping a: exit keys sent (3 s)`);
    expect(formatProgress('x', 0, 11, { colour: false })).toBe(`${CLEAR_LINE}${SPINNER[1]} x (0 s)`);
  });

  it('dims the elapsed time with colour, and writes no colour codes without it (NO_COLOR)', () => {
    expect(formatProgress('x', 5_000, 0, { colour: true })).toBe(`${CLEAR_LINE}${SPINNER[0]} x \x1b[2m(5 s)\x1b[22m`);
    expect(formatProgress('x', 5_000, 0, { colour: false })).not.toMatch(/\x1b\[(?!K)/);
  });

  it('never wraps: a long stage is cut to the terminal width, and a stage of several lines becomes one', () => {
    const line = formatProgress(`waiting ${'very '.repeat(40)}long`, 1_000, 0, { colour: false, columns: 40 });
    const visible = line.slice(CLEAR_LINE.length);
    expect([...visible].length).toBeLessThanOrEqual(39);
    expect(visible).toMatch(/… \(1 s\)$/);
    expect(formatProgress('one\ntwo', 0, 0, { colour: false })).toBe(`${CLEAR_LINE}${SPINNER[0]} one two (0 s)`);
  });

  it('counts whole seconds, then minutes', () => {
    expect(formatElapsed(999)).toBe('0 s');
    expect(formatElapsed(59_999)).toBe('59 s');
    expect(formatElapsed(65_000)).toBe('1 m 05 s');
    expect(formatElapsed(-5)).toBe('0 s');
  });
});

describe('progressLine', () => {
  it('not a terminal: stages write nothing at all; lines are plain lines', () => {
    const out = stream(false);
    const line = progressLine(out.stream, {});
    line.stage('waiting');
    line.say('hello');
    line.stage('still waiting');
    line.clear();
    expect(out.text()).toBe('hello\n');
  });

  it('TERM=dumb counts as not a terminal', () => {
    const out = stream(true);
    const line = progressLine(out.stream, { TERM: 'dumb' });
    line.stage('waiting');
    line.clear();
    expect(out.text()).toBe('');
  });

  it('a terminal: the stage is drawn, a line steps it aside and redraws it, clear erases it', () => {
    const out = stream(true);
    let now = 1_000;
    const line = progressLine(out.stream, { NO_COLOR: '1' }, () => now);
    line.stage('waiting for the prompt');
    now = 3_500;
    line.say('a line for the record');
    line.clear();
    line.clear(); // twice is harmless: nothing is shown any more
    expect(out.text()).toBe(
      `${CLEAR_LINE}${SPINNER[0]} waiting for the prompt (0 s)` +
        `${CLEAR_LINE}a line for the record\n` +
        `${CLEAR_LINE}${SPINNER[1]} waiting for the prompt (2 s)` +
        CLEAR_LINE,
    );
  });

  it('the clock starts at the first stage after a clear, not at the first stage ever', () => {
    const out = stream(true);
    let now = 0;
    const line = progressLine(out.stream, { NO_COLOR: '1' }, () => now);
    line.stage('one');
    now = 10_000;
    line.stage('two');
    line.clear();
    now = 20_000;
    line.stage('three');
    line.clear();
    expect(out.text()).toContain('two (10 s)');
    expect(out.text()).toContain('three (0 s)');
  });
});
