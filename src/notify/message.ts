import path from 'node:path';
import type { NotifyEvent } from '../config.js';
import type { Facts } from '../facts/derive.js';
import type { Announcement } from './policy.js';

/** The words of a notification, for a desktop (title and body) and for tmux's message line (one line). */
export interface NotificationText {
  readonly title: string;
  readonly body: string;
  readonly line: string;
}

const VERB: Readonly<Record<NotifyEvent, string>> = { approval: 'needs approval', done: 'finished its turn', died: 'died' };
const MAX_DETAIL = 120;
const MAX_LINE = 240;

function what(item: Announcement): string {
  return `${item.name} ${VERB[item.event]}${item.detail ? ` (${item.detail})` : ''}`;
}

/** One announcement reads as a sentence; several (coalesced in one gap) as a count and one line each. */
export function notificationText(batch: readonly Announcement[]): NotificationText {
  if (batch.length === 1) {
    const [item] = batch as [Announcement];
    return { title: `mam: ${item.name} ${VERB[item.event]}`, body: item.detail ?? '', line: cut(`mam: ${what(item)}`, MAX_LINE) };
  }
  const approvals = batch.filter((item) => item.event === 'approval').length;
  const title = approvals === batch.length ? `mam: ${batch.length} agents need approval` : `mam: ${batch.length} agents need a look`;
  return { title, body: batch.map(what).join('\n'), line: cut(`mam: ${batch.map(what).join(' · ')}`, MAX_LINE) };
}

/** How a person knows the session: its registry name, else its folder, else the start of its conversation id. */
export function sessionName(sessionId: string, facts: Facts | undefined): string {
  return facts?.session?.mam_session ?? (facts?.session?.cwd ? path.basename(facts.session.cwd) : null) ?? sessionId.slice(0, 8);
}

/** What an approval waits for: the first tool waiting, as `Bash: npm test`, or just its name. */
export function approvalDetail(facts: Facts | undefined): string | null {
  for (const agent of Object.values(facts?.agents ?? {})) {
    for (const tool of Object.values(agent.tools)) {
      if (tool.status !== 'needs_approval') continue;
      return cut(tool.command ? `${tool.tool_name}: ${tool.command.replace(/\s+/g, ' ')}` : tool.tool_name, MAX_DETAIL);
    }
  }
  return null;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
