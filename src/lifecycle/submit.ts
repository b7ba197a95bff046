import type { AgentLauncher } from '../agents/types.js';
import { capturePane, sendKeys } from '../tmux/session.js';
import { waitFor } from '../util/wait.js';
import type { LifecycleContext } from './context.js';
import { watchStart } from './start.js';

/**
 * Types a prompt into an agent and checks that it arrived and was submitted: the text must show on
 * the screen before Enter is pressed, and the screen must change after it. Until the job system exists
 * this is what `create --submit-job` does with its prompt.
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
  // Newlines would submit early in most TUIs; a prompt is one line here (multi-line sends arrive with `mam pane send`).
  const text = request.prompt.replace(/\s*\n\s*/g, ' ').trim();
  const head = text.slice(0, 40);
  if (!(await sendKeys(request.server, request.name, [{ text }], context.tmux))) return { ok: false, detail: 'tmux refused the keys' };
  let typed = '';
  const shown = await waitFor(async () => {
    typed = (await capturePane(request.server, request.name, 0, context.tmux)) ?? '';
    return flat(typed).includes(flat(head)) || (request.launcher.collapsedInput?.test(typed) ?? false);
  }, 5_000);
  if (!shown) return { ok: false, detail: `the prompt never showed in the agent's input (looked for ${JSON.stringify(head)})` };
  await sendKeys(request.server, request.name, [{ key: 'Enter' }], context.tmux);
  // An agent with a known prompt redraws when it takes the input; a generic command may print nothing at all.
  const observable = request.launcher.readyPattern !== undefined;
  const submitted = await waitFor(async () => ((await capturePane(request.server, request.name, 0, context.tmux)) ?? typed) !== typed, observable ? 10_000 : 2_000);
  if (submitted) return { ok: true, detail: 'prompt typed and submitted' };
  return observable
    ? { ok: false, detail: 'the prompt was typed but the agent did not react to Enter' }
    : { ok: true, detail: 'prompt typed and Enter pressed (this agent shows no sign of taking it)' };
}

/** Wrapped or re-flowed text compares equal once whitespace is folded. */
function flat(text: string): string {
  return text.replace(/\s+/g, ' ');
}
