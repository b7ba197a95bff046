import type { Applied, Facts } from '../facts/derive.js';

/**
 * Auto-resume after a usage limit (docs/status.md, 'Usage limits'), the decision half: pure functions of the facts
 * and a clock. The watcher asks when to look again (`resumeAt`), whether to send now (`resumeDue`), and records
 * the send under the session's lock before it types anything (`markResumeSent`), so `continue` goes once per limit
 * however often the session is resolved, and not again after the watcher restarts.
 */

/** When the main agent's limit resets (epoch ms), while it is limited, knows the time and nothing was sent for it. */
export function resumeAt(facts: Facts): number | undefined {
  const main = facts.agents['main'];
  if (main?.status !== 'limited' || !main.limit?.until || main.limit.resume_sent_at !== null) return undefined;
  const at = Date.parse(main.limit.until);
  return Number.isNaN(at) ? undefined : at;
}

/** Whether `continue` is due now. */
export function resumeDue(facts: Facts, now: number): boolean {
  const at = resumeAt(facts);
  return at !== undefined && now >= at;
}

/** The facts with the send recorded; unchanged when it is not (or no longer) due — another pass sent it already. */
export function markResumeSent(facts: Facts, now: number): Applied {
  const main = facts.agents['main'];
  if (!main?.limit || !resumeDue(facts, now)) return { facts, ended: false };
  const at = new Date(now).toISOString();
  return { facts: { session: facts.session, agents: { ...facts.agents, main: { ...main, limit: { ...main.limit, resume_sent_at: at }, updated_at: at } } }, ended: false };
}
