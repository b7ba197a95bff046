/**
 * What the watcher needs from a Claude transcript (docs/agents.md, 'Claude transcripts' and 'Claude interrupts
 * and rejections'), parsed as JSON lines — never as substrings of a fixed tail, which a large tool result pushes
 * out of range and an id inside a quoted string fools. Pure: bytes in, events out.
 */
export type TranscriptEvent =
  /** The model called a tool. While a permission dialog is open this line is usually held back (not always: src/watch/resolve.ts). */
  | { readonly kind: 'tool-use'; readonly offset: number; readonly id: string; readonly name: string }
  /** A tool finished, failed or was rejected. */
  | { readonly kind: 'tool-result'; readonly offset: number; readonly id: string; readonly rejected: boolean }
  /** `[Request interrupted by user]` or `[Request interrupted by user for tool use]`: the turn is over. */
  | { readonly kind: 'interrupt'; readonly offset: number }
  /** `system`/`turn_duration`: Claude closed a turn, however it ended. */
  | { readonly kind: 'turn-end'; readonly offset: number };

export interface ParsedChunk {
  readonly events: TranscriptEvent[];
  /** Bytes consumed: up to and including the last complete line. A partial last line is left for the next read. */
  readonly consumed: number;
  /** Complete lines that were not JSON objects (a torn write, a non-UTF-8 byte), skipped. */
  readonly skipped: number;
}

const INTERRUPT = '[Request interrupted by user';
const NEWLINE = 0x0a;

/**
 * Parses the complete lines of `chunk`, which starts at byte `offset` of the transcript. Offsets in events
 * are the byte offsets of their lines, so they compare with the sizes hooks record.
 */
export function parseTranscriptChunk(chunk: Uint8Array, offset: number): ParsedChunk {
  const events: TranscriptEvent[] = [];
  let skipped = 0;
  let start = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let end = chunk.indexOf(NEWLINE); end !== -1; start = end + 1, end = chunk.indexOf(NEWLINE, start)) {
    if (end === start) continue;
    let record: unknown;
    try {
      record = JSON.parse(decoder.decode(chunk.subarray(start, end)));
    } catch {
      skipped += 1;
      continue;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      skipped += 1;
      continue;
    }
    events.push(...lineEvents(record as Record<string, unknown>, offset + start));
  }
  return { events, consumed: start, skipped };
}

function lineEvents(record: Record<string, unknown>, offset: number): TranscriptEvent[] {
  const type = record['type'];
  if (type === 'system') return record['subtype'] === 'turn_duration' ? [{ kind: 'turn-end', offset }] : [];
  if (type !== 'user' && type !== 'assistant') return [];
  const message = record['message'];
  if (typeof message !== 'object' || message === null) return [];
  const content = (message as Record<string, unknown>)['content'];
  // Esc while streaming can be written as a plain string (docs/agents.md, 'Claude interrupts and rejections').
  if (typeof content === 'string') return type === 'user' && content.startsWith(INTERRUPT) ? [{ kind: 'interrupt', offset }] : [];
  if (!Array.isArray(content)) return [];
  const events: TranscriptEvent[] = [];
  for (const block of content as unknown[]) {
    if (typeof block !== 'object' || block === null) continue;
    const item = block as Record<string, unknown>;
    if (type === 'assistant' && item['type'] === 'tool_use' && typeof item['id'] === 'string') {
      events.push({ kind: 'tool-use', offset, id: item['id'], name: typeof item['name'] === 'string' ? item['name'] : 'tool' });
    } else if (type === 'user' && item['type'] === 'tool_result' && typeof item['tool_use_id'] === 'string') {
      events.push({ kind: 'tool-result', offset, id: item['tool_use_id'], rejected: item['is_error'] === true && record['toolUseResult'] === 'User rejected tool use' });
    } else if (type === 'user' && item['type'] === 'text' && typeof item['text'] === 'string' && item['text'].startsWith(INTERRUPT)) {
      events.push({ kind: 'interrupt', offset });
    }
  }
  return events;
}
