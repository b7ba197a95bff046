/** The kernel's and the CLI's fixed values, as docs/hermes-kanban.md gives them ('Where the board lives', 'The dispatcher'). */

export const DEFAULT_CLAIM_TTL_SECONDS = 900;
export const CLAIM_HEARTBEAT_MAX_STALE_SECONDS = 3600;
export const DEFAULT_CRASH_GRACE_SECONDS = 30;
export const DEFAULT_RATE_LIMIT_COOLDOWN_SECONDS = 300;
export const RATE_LIMIT_EXIT_CODE = 75;
export const DEFAULT_FAILURE_LIMIT = 2;
export const PROTOCOL_VIOLATION_FAILURE_LIMIT = 1;
export const BLOCK_RECURRENCE_LIMIT = 2;
export const RECENT_COMPLETION_GUARD_SECONDS = 3600;
export const ACTIVE_PR_GUARD_SECONDS = 24 * 3600;
export const DEFAULT_BUSY_TIMEOUT_MS = 120_000;

export const VALID_STATUSES = ['archived', 'blocked', 'done', 'ready', 'review', 'running', 'scheduled', 'todo', 'triage'];
export const BLOCK_KINDS = ['capability', 'dependency', 'needs_input', 'transient'];
export const SORT_ORDERS = ['assignee', 'created', 'created-desc', 'priority', 'priority-desc', 'status', 'title', 'updated'];
/** Toolset names `--skill` refuses (kanban_db.py:2499-2537): a toolset is not a skill. */
export const TOOLSET_NAMES = new Set([
  'browser', 'clarify', 'code_execution', 'cronjob', 'delegation', 'file', 'homeassistant', 'image_gen',
  'kanban', 'memory', 'messaging', 'moa', 'rl', 'search', 'session_search', 'skills', 'terminal', 'todo',
  'tts', 'vision', 'web',
]);
export const STATUS_ICONS: Record<string, string> = {
  todo: '◻', ready: '▶', running: '●', scheduled: '⏱', blocked: '⊘', done: '✓', archived: '—',
};
export const PROTOCOL_VIOLATION_ERROR =
  'worker exited cleanly (rc=0) without calling kanban_complete or kanban_block — protocol violation. ' +
  'If the prior run already did the work, verify it and report the result via kanban_complete; a run that ends ' +
  'without a terminal kanban call counts as failed no matter what it did.';
export const NO_GATEWAY_WARNING =
  "\n⚠  No gateway is running — the task will sit in 'ready' until you start it. Run:\n" +
  '    hermes gateway start\n' +
  'The gateway hosts an embedded dispatcher (tick interval 60s by default); your task will be picked up on ' +
  'the next tick after the gateway comes up.';
