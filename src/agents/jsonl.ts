import { open } from 'node:fs/promises';

/**
 * Reading the head of an agent's JSON-lines file without trusting it: only complete, newline-terminated
 * lines count (a torn last line is skipped, never half-parsed), bytes that are not UTF-8 are replaced
 * rather than fatal, and a line that is not a JSON object is skipped. Agents write whole lines by
 * append, so the head of a transcript never changes once written.
 */
export type JsonRecord = Readonly<Record<string, unknown>>;

export interface Head {
  readonly records: readonly JsonRecord[];
  /** Complete lines seen, parseable or not. Zero for an empty file or one torn line. */
  readonly completeLines: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export async function readJsonlHead(file: string, maxBytes = 64 * 1024, maxRecords = 50): Promise<Head> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return parseJsonlHead(buffer.subarray(0, bytesRead), maxRecords);
  } finally {
    await handle.close();
  }
}

export function parseJsonlHead(bytes: Uint8Array, maxRecords = 50): Head {
  const lastNewline = bytes.lastIndexOf(0x0a);
  if (lastNewline < 0) return { records: [], completeLines: 0 };
  const lines = decoder.decode(bytes.subarray(0, lastNewline)).split('\n');
  const records: JsonRecord[] = [];
  for (const line of lines) {
    if (records.length >= maxRecords) break;
    const record = parseRecord(line);
    if (record) records.push(record);
  }
  return { records, completeLines: lines.length };
}

export function parseRecord(line: string): JsonRecord | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;
  } catch {
    return undefined;
  }
}

export function stringField(record: JsonRecord | undefined, key: string): string | undefined {
  const value = record?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function recordField(record: JsonRecord | undefined, key: string): JsonRecord | undefined {
  const value = record?.[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;
}

export function timeField(record: JsonRecord | undefined, key: string): number | undefined {
  const value = stringField(record, key);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
