import { MamError } from '../util/errors.js';
import type { TmuxOptions, TmuxServer } from '../tmux/client.js';
import { decide } from '../deliver/policy.js';
import { paneInfo, tmuxMust, windowPanes, type PaneInfo } from '../tmux/panes.js';

/**
 * The tmux templates' rebalance (docs/pane.md): `main-vertical` with the master pane as the main one. tmux 3.3 makes
 * the window's *first* pane the main pane (not the active one), so a master that is not first is swapped there
 * first; the focus is left where the user had it. Verified and retried per the policy's table.
 */
export interface Rebalanced {
  readonly windowId: string;
  readonly panes: number;
  readonly attempts: number;
}

/** What is wrong with the layout, or undefined when the master is the full-height main pane on the left. */
export function layoutProblem(panes: readonly PaneInfo[], master: string, expected: number | undefined): string | undefined {
  if (expected !== undefined && panes.length !== expected) return `the window has ${panes.length} panes, expected ${expected}`;
  const main = panes.find((pane) => pane.paneId === master);
  if (!main) return `master pane ${master} is not in the window`;
  if (panes.length === 1) return undefined;
  if (main.left !== 0 || main.top !== 0 || main.height !== main.windowHeight) {
    return `master pane ${master} is at ${main.left},${main.top} (${main.width}x${main.height}), not the full-height main pane on the left`;
  }
  return undefined;
}

export async function rebalance(server: TmuxServer, master: string, tmux: TmuxOptions, expected?: number): Promise<Rebalanced> {
  const info = await paneInfo(server, master, tmux);
  if (!info) throw new MamError(`master pane ${master} does not exist on this tmux server; pass the coordinator's pane with --master %N`);
  for (let attempt = 1; ; attempt += 1) {
    const panes = await windowPanes(server, info.windowId, tmux);
    const first = panes[0];
    if (first && first.paneId !== master) {
      await tmuxMust(server, ['swap-pane', '-d', '-s', master, '-t', first.paneId], tmux, `move master pane ${master} to the main position`);
    }
    await tmuxMust(server, ['select-layout', '-t', info.windowId, 'main-vertical'], tmux, `lay out window ${info.windowId}`);
    const after = await windowPanes(server, info.windowId, tmux);
    const decision = decide(attempt, { operation: 'rebalance', problem: layoutProblem(after, master, expected) });
    if (decision.action === 'done') return { windowId: info.windowId, panes: after.length, attempts: attempt };
    if (decision.action === 'fail') throw new MamError(`rebalance of window ${info.windowId}: ${decision.reason}`);
  }
}
