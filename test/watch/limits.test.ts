import { describe, expect, it } from 'vitest';
import { applyHook, type Facts } from '../../src/facts/derive.js';
import { markResumeSent, resumeAt, resumeDue } from '../../src/watch/limits.js';

/** The once-only auto-resume decision of docs/status.md, 'Usage limits', against a clock. */
const T0 = Date.parse('2026-12-03T08:00:00Z');
const RESET = Date.parse('2026-12-03T09:00:00Z');

function limited(text: string | undefined = `Claude AI usage limit reached|${RESET / 1000}`): Facts {
  const context = { now: T0, agent: 'claude', mamSession: 'w-creator-claude', pid: 100 };
  const started = applyHook({ session: undefined, agents: {} }, { hook_event_name: 'UserPromptSubmit', session_id: 's' }, context).facts;
  return applyHook(started, { hook_event_name: 'StopFailure', session_id: 's', error: 'rate_limit', ...(text === undefined ? {} : { last_assistant_message: text }) }, context).facts;
}

describe('auto-resume: when to send, and only once', () => {
  it('is due at the reset time and not before', () => {
    const facts = limited();
    expect(resumeAt(facts)).toBe(RESET);
    expect(resumeDue(facts, RESET - 1)).toBe(false);
    expect(resumeDue(facts, RESET)).toBe(true);
    expect(resumeDue(facts, RESET + 3_600_000)).toBe(true);
  });

  it('once recorded, never again — however often it is asked, and whatever the clock says', () => {
    const sent = markResumeSent(limited(), RESET + 5).facts;
    expect(sent.agents['main']?.limit?.resume_sent_at).toBe(new Date(RESET + 5).toISOString());
    expect(resumeAt(sent)).toBeUndefined();
    expect(resumeDue(sent, RESET + 60_000)).toBe(false);
    // A second mark (another pass, a restarted watcher) changes nothing: the same object back.
    expect(markResumeSent(sent, RESET + 10).facts).toBe(sent);
  });

  it('not before the reset, not without a reset time, not when not limited', () => {
    const early = limited();
    expect(markResumeSent(early, RESET - 1).facts).toBe(early);
    const unknown = limited('API Error: Request rejected (429) · rate limited');
    expect(unknown.agents['main']?.status).toBe('limited');
    expect(resumeAt(unknown)).toBeUndefined();
    expect(resumeDue(unknown, RESET * 2)).toBe(false);
    const resumed = applyHook(limited(), { hook_event_name: 'UserPromptSubmit', session_id: 's' }, { now: T0 + 1, agent: 'claude', mamSession: null, pid: 100 }).facts;
    expect(resumed.agents['main']?.status).toBe('working');
    expect(resumeDue(resumed, RESET)).toBe(false);
  });
});
