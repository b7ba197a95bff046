import type { CardComment } from './types.js';

/**
 * The monitor's settings, with what a card body may override. The body is data: only `key: value`
 * lines naming a known setting are read (anywhere in the body, optionally as list items or inside a
 * fenced block); everything else is ignored and nothing in it is ever executed.
 */
export interface MonitorSettings {
  readonly intervalMs: number;
  readonly heartbeatMs: number;
  readonly registry: string | undefined;
  /** How long an agent may wait on an approval before the monitor says so (used once status exists). */
  readonly approvalAlertMs: number;
  /** Ended sessions older than this are pruned into the history file once a day (`mam prune`); 0 = never. */
  readonly retentionMs: number;
}

export const DEFAULT_SETTINGS: MonitorSettings = {
  intervalMs: 30_000,
  heartbeatMs: 5 * 60_000,
  registry: undefined,
  approvalAlertMs: 10 * 60_000,
  retentionMs: 7 * 86_400_000,
};

const KEYS: Record<string, keyof MonitorSettings> = {
  interval: 'intervalMs',
  poll_interval: 'intervalMs',
  heartbeat: 'heartbeatMs',
  heartbeat_period: 'heartbeatMs',
  heartbeat_interval: 'heartbeatMs',
  registry: 'registry',
  approval_alert: 'approvalAlertMs',
  retention: 'retentionMs',
};

/** An unfilled template placeholder (`{{registry}}`): no value at all, never a path or a duration. */
const PLACEHOLDER = /\{\{[^}]*\}\}/;

const LINE = /^\s*(?:[-*]\s+)?`?([a-z_]+)`?\s*[:=]\s*(.+?)\s*$/i;

export interface ParsedSettings {
  readonly settings: MonitorSettings;
  /** Recognised keys whose values could not be used, for a one-time warning. */
  readonly rejected: readonly string[];
}

export function settingsFromBody(body: string, base: MonitorSettings = DEFAULT_SETTINGS): ParsedSettings {
  const settings: { -readonly [K in keyof MonitorSettings]: MonitorSettings[K] } = { ...base };
  const rejected: string[] = [];
  for (const line of body.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const key = KEYS[match[1]!.toLowerCase()];
    if (!key) continue;
    const value = match[2]!.replace(/^["'`]|["'`]$/g, '');
    if (PLACEHOLDER.test(value)) continue;
    if (key === 'registry') {
      if (value.startsWith('/') || value.startsWith('~/')) settings.registry = value;
      else rejected.push(`registry: ${value} (must be an absolute path)`);
      continue;
    }
    if (key === 'retentionMs') {
      const retention = parseRetention(value);
      if (retention === undefined) rejected.push(`${match[1]}: ${value} (a duration such as 7d or 12h, or 0 for never)`);
      else settings.retentionMs = retention;
      continue;
    }
    const ms = parseDuration(value);
    if (ms === undefined || ms < 1000 || ms > 24 * 3600_000) rejected.push(`${match[1]}: ${value} (a duration such as 30s, 5m, 1h)`);
    else settings[key] = ms;
  }
  return { settings, rejected };
}

/** A retention: a duration of at least a second, or `0` (also `never`, `off`) for never pruning. */
export function parseRetention(text: string): number | undefined {
  if (/^(?:0+(?:\.0*)?\s*[a-z]*|never|off)$/i.test(text.trim())) return 0;
  const ms = parseDuration(text);
  return ms === undefined || ms < 1000 ? undefined : ms;
}

/** `7d`, `12h`, `5m`, `30s`: a duration as the settings write it, in its largest whole unit. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `30`, `30s`, `5m`, `1h`, `1.5m`, `7d` → milliseconds (a bare number is seconds). */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)?$/i.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = (match[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit.startsWith('s') ? 1000 : unit.startsWith('m') ? 60_000 : unit.startsWith('h') ? 3_600_000 : 86_400_000;
  return Math.round(value * factor);
}

/**
 * The card's settings: its body, then each `key: value` line in comments by someone other than this
 * worker, oldest first, so the newest wins. Hermes 0.18 cannot edit a card's body from its CLI, so a
 * comment is how a person configures (or corrects) a card after it was created.
 */
export function settingsFromCard(
  card: { readonly body: string; readonly comments: readonly CardComment[] },
  isFromSomeoneElse: (comment: CardComment) => boolean,
  base: MonitorSettings = DEFAULT_SETTINGS,
): ParsedSettings {
  let parsed = settingsFromBody(card.body, base);
  const rejected = [...parsed.rejected];
  for (const comment of card.comments) {
    if (!isFromSomeoneElse(comment)) continue;
    parsed = settingsFromBody(comment.body, parsed.settings);
    rejected.push(...parsed.rejected);
  }
  return { settings: parsed.settings, rejected };
}
