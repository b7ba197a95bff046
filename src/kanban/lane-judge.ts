import { spawn } from 'node:child_process';
import * as z from 'zod';
import { parseJsonOrUndefined } from '../util/json.js';

/**
 * The goal judge of a goal card (docs/lane.md, 'Goal cards'). Hermes runs its judge (an LLM call) inside its own
 * worker process and offers no command for it, so the lane asks a command named by `MAM_LANE_JUDGE`: the goal and the
 * agent's summary go in as JSON on stdin, and the answer comes back in the shape Hermes' judge model answers in,
 * `{"done": true|false, "reason": "…"}`.
 */
const Verdict = z.object({
  done: z.union([z.boolean(), z.string()]),
  reason: z.string().optional(),
});

export type JudgeAnswer =
  | { readonly kind: 'done'; readonly reason: string }
  | { readonly kind: 'continue'; readonly reason: string }
  /** The judge could not be asked, or its answer was unreadable. */
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface JudgeQuestion {
  readonly card: string;
  /** The card's title and body, as Hermes gives its judge. */
  readonly goal: string;
  /** The agent's `completed` summary. */
  readonly response: string;
}

/** A judge that does not answer in this long is treated as unavailable. */
export const JUDGE_TIMEOUT_MS = 120_000;

/** Reads the judge's answer: the last line of its output that is a verdict object (a judge may log before it). */
export function parseVerdict(stdout: string): JudgeAnswer {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of [stdout.trim(), ...lines]) {
    const parsed = Verdict.safeParse(parseJsonOrUndefined(line.trim()));
    if (!parsed.success) continue;
    const done = typeof parsed.data.done === 'string' ? ['true', 'yes', '1', 'done'].includes(parsed.data.done.trim().toLowerCase()) : parsed.data.done;
    const reason = parsed.data.reason?.trim() || 'no reason provided';
    return done ? { kind: 'done', reason } : { kind: 'continue', reason };
  }
  return { kind: 'unavailable', reason: `the judge's output was not {"done": …, "reason": …}: ${JSON.stringify(stdout.trim().slice(0, 200))}` };
}

/** Runs the judge command (through `sh -c`, in `cwd`) once; never throws. */
export async function askJudge(command: string, question: JudgeQuestion, options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<JudgeAnswer> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    // Its own process group, so a timeout ends whatever the judge started too (they would hold its output open).
    const child = spawn('sh', ['-c', command], { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs ?? JUDGE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ kind: 'unavailable', reason: `${command}: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(parseVerdict(stdout));
      const why = signal ? `killed by ${signal} (no answer within ${Math.round((options.timeoutMs ?? JUDGE_TIMEOUT_MS) / 1000)} s?)` : `exit status ${code}`;
      resolve({ kind: 'unavailable', reason: `the judge command failed (${why})${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)!.slice(0, 200)}` : ''}` });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${JSON.stringify(question)}\n`);
  });
}
