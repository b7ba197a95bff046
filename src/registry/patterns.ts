/**
 * The alphabets of names the registry holds, zod-free so that config.ts and `mam hook` (whose start-up budget
 * zod alone would exceed) can check them. src/registry/schema.ts builds its zod types on these.
 */

/**
 * Session names end up in tmux targets and shell-adjacent places. tmux treats `: . $ @ % =` specially and
 * `#{q:…}` mis-escapes `$`, so only this conservative alphabet is accepted (docs/tmux.md, 'Session names').
 */
export const SESSION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** A tmux `-L` socket name; it becomes a file name under the tmux socket directory. */
export const TMUX_SERVER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Conversation ids become file names (`<id>.jsonl`, `<id>.db`): no separators, no dots, ever. */
export const CONVERSATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const PANE_ID_PATTERN = /^%\d{1,9}$/;
export const WINDOW_ID_PATTERN = /^@\d{1,9}$/;
export const ROLE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** An agent kind or a command name (`agent:`), checked before it is ever run or written. */
export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
