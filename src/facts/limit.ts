/**
 * When a usage limit resets, read from what the agent said about it (docs/status.md, 'Usage limits'). Pure: the
 * text, a clock and the zone the agent printed times in. Zod-free and import-free: `mam hook` runs it on StopFailure.
 *
 * The forms understood, all seen from Claude Code and the Anthropic API:
 * - `… usage limit reached|1767225600`: the API's own message, the reset as epoch seconds after a `|`;
 * - `resets 3pm`, `resets 3:05pm (Europe/Berlin)`, `resets Dec 4, 3pm (UTC)`, `reset at 3pm`: Claude's screen and
 *   StopFailure text (times in the named zone, else in the local one; a bare time is its next occurrence);
 * - `resets in 2h 5m`, `try again in 30 seconds`: a duration from now.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const EPOCH = /\|\s*(\d{10})(?!\d)/;
const DURATION = /\b(?:resets?|try again|retry)\s+(?:in|after)\s+((?:\d+\s*(?:d|h|m|s|days?|hours?|hrs?|minutes?|mins?|seconds?|secs?)\b[\s,]*(?:and\s+)?)+)/i;
const CLOCK =
  /\bresets?\s+(?:at\s+)?(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4}),?\s+)?(?:at\s+)?)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?(?:\s*\(([^)]+)\))?/i;

/** The reset time (epoch ms) the text gives, or undefined when it gives none. `zone`: the local IANA zone. */
export function limitReset(text: string, now: number, zone: string = localZone()): number | undefined {
  const epoch = EPOCH.exec(text);
  if (epoch) return Number(epoch[1]) * 1000;
  const duration = DURATION.exec(text);
  if (duration) return now + durationMs(duration[1]!);
  const clock = CLOCK.exec(text);
  if (!clock) return undefined;
  const [, month, day, year, hourText, minuteText, meridiem, named] = clock;
  // "resets 3" alone is not a time: a bare hour needs am/pm or minutes.
  if (meridiem === undefined && minuteText === undefined) return undefined;
  let hour = Number(hourText);
  const minute = minuteText === undefined ? 0 : Number(minuteText);
  if (hour > 23 || minute > 59 || (meridiem !== undefined && (hour < 1 || hour > 12))) return undefined;
  if (meridiem?.toLowerCase() === 'pm' && hour !== 12) hour += 12;
  if (meridiem?.toLowerCase() === 'am' && hour === 12) hour = 0;
  const place = named !== undefined && validZone(named.trim()) ? named.trim() : zone;
  const today = wallClock(now, place);
  if (month !== undefined) {
    const monthIndex = MONTHS.indexOf(month.toLowerCase().slice(0, 3));
    const at = (y: number): number => zonedEpoch(y, monthIndex, Number(day), hour, minute, place);
    if (year !== undefined) return at(Number(year));
    // No year: this year's date, or next year's once this one is more than a day gone.
    return at(today.year) < now - 86_400_000 ? at(today.year + 1) : at(today.year);
  }
  // A time of day: its next occurrence (a minute of slack, for a reset printed the moment it happens).
  const sameDay = zonedEpoch(today.year, today.month, today.day, hour, minute, place);
  return sameDay >= now - 60_000 ? sameDay : zonedEpoch(today.year, today.month, today.day + 1, hour, minute, place);
}

function durationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)\s*([a-z]+)/gi)) {
    const first = unit!.toLowerCase()[0];
    total += Number(amount) * (first === 'd' ? 86_400_000 : first === 'h' ? 3_600_000 : first === 'm' ? 60_000 : 1_000);
  }
  return total;
}

function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function validZone(zone: string): boolean {
  try {
    Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  readonly year: number;
  /** 0-based, as Date.UTC takes it. */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

function wallClock(at: number, zone: string): Wall {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((candidate) => candidate.type === type)?.value ?? 0);
  return { year: part('year'), month: part('month') - 1, day: part('day'), hour: part('hour') % 24, minute: part('minute'), second: part('second') };
}

/** The instant a wall-clock time in `zone` names (the later one of a repeated hour; a skipped hour moves forward). */
function zonedEpoch(year: number, month: number, day: number, hour: number, minute: number, zone: string): number {
  const wanted = Date.UTC(year, month, day, hour, minute);
  let guess = wanted;
  for (let round = 0; round < 3; round += 1) {
    const seen = wallClock(guess, zone);
    const offset = Date.UTC(seen.year, seen.month, seen.day, seen.hour, seen.minute, seen.second) - Math.floor(guess / 1000) * 1000;
    const next = wanted - offset;
    if (next === guess) break;
    guess = next;
  }
  return guess;
}
