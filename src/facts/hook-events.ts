import type { HookEventAlias } from '../agents/types.js';
import { isHookEvent } from './derive.js';

/**
 * Each agent's own hook event names, for `mam hook`. They are declared in the agent's module (`hooks.eventAliases`
 * in src/agents/<agent>.ts), but `mam hook` runs on every agent event and must not load the agent modules (they bring
 * the registry and zod; bench/hook.bench.ts): so `mam-hook`, what installed hooks run, has them built in —
 * scripts/bundle-hook.mjs reads them from the built agent table and defines this constant, by agent id.
 */
declare const MAM_HOOK_EVENT_ALIASES: Readonly<Record<string, readonly HookEventAlias[]>> | undefined;

/**
 * The aliases `agent` declares, for a payload reporting `event`. Unbundled (`mam hook` through main.js, tests), the
 * agent modules are loaded, but only for an event mam does not know by name: an agent's aliases never rename one
 * it knows (test/facts/hook-events.test.ts), so Claude's and Codex's events never pay for it.
 */
export async function hookEventAliases(agent: string, event: string): Promise<readonly HookEventAlias[]> {
  if (typeof MAM_HOOK_EVENT_ALIASES !== 'undefined') return Object.hasOwn(MAM_HOOK_EVENT_ALIASES, agent) ? (MAM_HOOK_EVENT_ALIASES[agent] ?? []) : [];
  if (isHookEvent(event)) return [];
  const { agentKind } = await import('../agents/index.js');
  return agentKind(agent)?.hooks?.eventAliases ?? [];
}
