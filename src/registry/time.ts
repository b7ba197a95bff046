/**
 * The registry's timestamps, zod-free like patterns.ts: `mam status` and the reconcile pass read them, and loading
 * zod to compute an age was the largest single cost of a one-shot `mam status` (bench/oneshot.bench.ts).
 * src/registry/schema.ts re-exports these for the writers, which load zod anyway.
 */

/** A timestamp field as read: YAML 1.2 gives a string; a hand-edited file may still carry a YAML 1.1 date. */
export type TimestampValue = string | Date | null | undefined;

/** Epoch milliseconds of a timestamp field, or undefined when absent or unreadable. */
export function timestampMs(value: TimestampValue): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The ISO form written into the registry: second precision, UTC (docs/registry.md, 'Fields'). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** How long an entry may stay `starting` before a pass repairs it even though its creator still looks alive. */
export const STARTING_STALE_MS = 120_000;
