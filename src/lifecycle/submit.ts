import type { AgentLauncher } from '../agents/types.js';
import { deliverMessage } from '../deliver/deliver.js';
import type { LifecycleContext } from './context.js';
import { watchStart } from './start.js';

/**
 * Types a prompt into an agent and checks that it arrived and was submitted (`create --submit-job`), with
 * the delivery receipts of `mam pane send`.
 */
export interface SubmitRequest {
  readonly server: string;
  readonly name: string;
  readonly launcher: AgentLauncher;
  readonly prompt: string;
  /** The agent was already seen ready; otherwise wait for it first. */
  readonly ready: boolean;
}

export async function submitPrompt(context: LifecycleContext, request: SubmitRequest): Promise<{ ok: boolean; detail: string }> {
  if (!request.ready) {
    const started = await watchStart(context, request, 60_000);
    if (started.outcome !== 'ready') return { ok: false, detail: `the agent did not become ready for input (${started.outcome})` };
  }
  // The same receipts and retries as `mam pane send` (pane/policy.ts): one delivery policy for every command.
  // One line: an agent without bracketed paste would take each newline as a submit (multi-line: `mam pane send`).
  const text = request.prompt.replace(/\s*\n\s*/g, ' ').trim();
  const receipt = await deliverMessage({ server: request.server, target: `=${request.name}:`, tmux: context.tmux }, { text, launcher: request.launcher, verify: true });
  return { ok: receipt.ok, detail: receipt.ok ? `prompt delivered (${receipt.detail})` : `the prompt was not delivered at stage ${receipt.stage}: ${receipt.detail}` };
}
