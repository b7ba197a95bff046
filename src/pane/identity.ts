import { agentKind, type IdentityCommand } from '../agents/index.js';

/**
 * Who a spawned agent is: its role colour and pane title, which are the same for every agent kind and used
 * only by `mam pane`. The slash commands that set the identity inside the agent (docs/pane.md: `/color` and
 * `/rename`, each its own send, never by the agent) are per agent, so they live in its module in src/agents.
 */

/** The colours Claude Code 2.1.197's `/color` accepts (anything else is refused with "Invalid color"). */
export const PANE_COLORS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink', 'cyan'] as const;
export type PaneColor = (typeof PANE_COLORS)[number];

/** Stable colours for the usual roles; the master/coordinator is blue, as in the tmux templates (docs/pane.md). */
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

/** What the agent's own module says to send; an agent kind without identity commands gets only the pane title. */
export function identityCommands(agent: string, role: string, color: PaneColor): readonly IdentityCommand[] {
  return agentKind(agent)?.identity?.(role, color) ?? [];
}

/** The pane border title of the tmux templates (docs/pane.md), `<role>-<pane id>`. */
export function paneTitle(role: string, paneId: string): string {
  return `${role}-${paneId}`;
}
