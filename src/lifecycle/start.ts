import type { AgentLauncher } from '../agents/types.js';
import { newSession, sessionPaneAndScreen, type PaneFacts } from '../tmux/session.js';
import { waitFor } from '../util/wait.js';
import type { LifecycleContext } from './context.js';

/**
 * Starts an agent in a new tmux session and watches its screen until it is ready for input, says the
 * conversation it was asked to resume is gone, or exits. Polls; the timeout is an upper bound.
 */
export type StartOutcome = 'ready' | 'conversation-gone' | 'exited' | 'still-starting';

export interface Started {
  readonly outcome: StartOutcome;
  readonly pane: PaneFacts | undefined;
  /** The last screen seen, for messages and `last_visible_status`. */
  readonly screen: string;
}

export interface StartSpec {
  readonly server: string;
  readonly name: string;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly launcher: AgentLauncher;
  /** Environment the agent starts with (`start_env`), beside mam's own MAM_SESSION and MAM_REGISTRY. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Ends the wait early (the caller was asked to stop: SIGINT/SIGTERM); the outcome is then still-starting. */
  readonly interrupt?: AbortSignal | undefined;
}

/** A screen unchanged this long counts as ready, for agents with no known prompt pattern. */
const STABLE_MS = 1_000;

export async function startAgent(context: LifecycleContext, spec: StartSpec, timeoutMs: number): Promise<Started> {
  // The agent's hooks (`mam hook`) find their registry entry through these two.
  // Marked as this registry's from its first instant (`@mam_registry`), so no other registry ever registers it.
  await newSession(
    { server: spec.server, name: spec.name, cwd: spec.cwd, argv: spec.argv, env: { ...spec.env, MAM_SESSION: spec.name, MAM_REGISTRY: context.registryFile }, owner: context.registryFile },
    context.tmux,
  );
  return watchStart(context, spec, timeoutMs);
}

export async function watchStart(context: LifecycleContext, spec: Omit<StartSpec, 'argv' | 'cwd'>, timeoutMs: number): Promise<Started> {
  if (spec.interrupt?.aborted) return { outcome: 'still-starting', pane: undefined, screen: '' };
  let pane: PaneFacts | undefined;
  let screen = '';
  let outcome: StartOutcome = 'still-starting';
  let stableSince = Date.now();
  context.progress(`${spec.name}: waiting for ${spec.launcher.command} to show its prompt (up to ${Math.round(timeoutMs / 1000)} s)`);
  await waitFor(async () => {
    if (spec.interrupt?.aborted) return true;
    const seen = await sessionPaneAndScreen(spec.server, spec.name, context.tmux);
    pane = seen?.pane;
    if (!seen || seen.pane.dead) {
      outcome = 'exited';
      return true;
    }
    const next = seen.screen;
    if (next !== screen) stableSince = Date.now();
    screen = next;
    outcome = startOutcome(spec.launcher, screen, Date.now() - stableSince);
    return outcome !== 'still-starting';
  }, timeoutMs, 100).finally(() => context.progress(undefined));
  return { outcome, pane, screen };
}

/** What a live agent's screen says about its start (also used by `mam pane spawn`, which watches a pane). */
export function startOutcome(launcher: AgentLauncher, screen: string, unchangedForMs: number): Exclude<StartOutcome, 'exited'> {
  if (launcher.conversationGone?.test(screen)) return 'conversation-gone';
  // Without a known prompt, a live agent whose screen has stopped changing is taken as ready — even a blank
  // one: plenty of tools print nothing until spoken to.
  if (launcher.readyPattern ? launcher.readyPattern.test(screen) : unchangedForMs >= STABLE_MS) return 'ready';
  return 'still-starting';
}
