/**
 * Who a spawned agent is: its role colour and the slash commands the spawner sends to set its identity
 * (seed 004: `/color` and `/rename` are sent by the spawner, each its own send, never by the agent).
 * Kept beside the pane commands, keyed by agent kind, because only `mam pane` uses them; an agent kind
 * without identity commands gets only the pane title.
 */

/** The colours Claude Code 2.1.197's `/color` accepts (anything else is refused with "Invalid color"). */
export const PANE_COLORS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink', 'cyan'] as const;
export type PaneColor = (typeof PANE_COLORS)[number];

/** Stable colours for the usual roles; the master/coordinator is blue, as the seed has it. */
const ROLE_COLORS: Readonly<Record<string, PaneColor>> = {
  master: 'blue',
  coordinator: 'blue',
  dev: 'green',
  developer: 'green',
  qa: 'yellow',
  test: 'yellow',
  review: 'orange',
  reviewer: 'orange',
  architect: 'purple',
  pm: 'cyan',
  ux: 'pink',
  security: 'red',
};

/** The role's colour: a known role's own, any other a stable pick by a hash of its name. */
export function roleColor(role: string): PaneColor {
  const known = ROLE_COLORS[role.toLowerCase()];
  if (known) return known;
  let hash = 0;
  for (const char of role.toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PANE_COLORS[hash % PANE_COLORS.length]!;
}

export function isPaneColor(value: string): value is PaneColor {
  return (PANE_COLORS as readonly string[]).includes(value);
}

/** A slash command typed into an agent, and what the agent prints once it has applied it. */
export interface IdentityCommand {
  readonly command: string;
  readonly confirms: RegExp;
}

/** Role and colour are validated (`[A-Za-z0-9_-]`, PANE_COLORS) before they get here: no escaping needed. */
const IDENTITY: Readonly<Record<string, (role: string, color: PaneColor) => readonly IdentityCommand[]>> = {
  // Claude 2.1.197 answers under each: `⎿  Session color set to: red`, `⎿  Session renamed to: dev-agent`.
  claude: (role, color) => [
    { command: `/color ${color}`, confirms: new RegExp(`Session color set to: ${color}\\b`) },
    { command: `/rename ${role}-agent`, confirms: new RegExp(`Session renamed to: ${role}-agent\\b`) },
  ],
};

export function identityCommands(agent: string, role: string, color: PaneColor): readonly IdentityCommand[] {
  return IDENTITY[agent]?.(role, color) ?? [];
}

/** The seed's pane border title, `<role>-<pane id>`. */
export function paneTitle(role: string, paneId: string): string {
  return `${role}-${paneId}`;
}
