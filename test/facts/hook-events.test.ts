import { describe, expect, it } from 'vitest';
import { AGENT_KINDS } from '../../src/agents/index.js';
import { gemini } from '../../src/agents/gemini.js';
import { isHookEvent } from '../../src/facts/derive.js';
import { hookEventAliases } from '../../src/facts/hook.js';

/**
 * Each agent declares its own hook event names in its module (`hooks.eventAliases`); `mam hook` gets them without
 * loading the agent modules (hookEventAliases in src/facts/hook.ts). What makes that shortcut sound is checked here.
 */
describe("agents' hook event names", () => {
  const withHooks = AGENT_KINDS.flatMap((kind) => (kind.hooks ? [{ id: kind.id, hooks: kind.hooks }] : []));

  it('every event an agent registers is one mam knows, or one of its own mapped onto one', () => {
    expect(withHooks.map(({ id }) => id)).toEqual(['claude', 'codex', 'gemini']);
    for (const { id, hooks } of withHooks) {
      const aliased = new Set((hooks.eventAliases ?? []).map((alias) => alias.event));
      expect({ id, ignored: hooks.events.filter((event) => !isHookEvent(event) && !aliased.has(event)) }).toEqual({ id, ignored: [] });
    }
  });

  it('an alias maps a name mam does not know, which the agent registers, onto one it knows: it never renames a known event', () => {
    for (const { hooks } of withHooks) {
      for (const alias of hooks.eventAliases ?? []) {
        expect(isHookEvent(alias.event)).toBe(false);
        expect(isHookEvent(alias.means)).toBe(true);
        expect(hooks.events).toContain(alias.event);
      }
    }
  });

  it('unbundled, the aliases come from the agent table, and only for an event mam does not know by name', async () => {
    expect(await hookEventAliases('gemini', 'BeforeAgent')).toBe(gemini.hooks?.eventAliases);
    expect(await hookEventAliases('gemini', 'SessionStart')).toEqual([]);
    expect(await hookEventAliases('claude', 'Notification')).toEqual([]);
    expect(await hookEventAliases('no-such-agent', 'BeforeAgent')).toEqual([]);
  });
});
