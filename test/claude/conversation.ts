import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { claudeProjectKey } from '../../src/agents/claude.js';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { mam, type MamResult } from '../helpers/sandbox.js';
import type { ClaudeSession } from './fixture.js';
import { capture, isEmptyIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

/**
 * A conversation that outlives its Claude process, as the lifecycle and restore tests hold one: a first exchange
 * (banana), the Claude ended one way or another and brought back, and a second exchange (cherry) that must land in the
 * same transcript.
 */
export const FRUIT_SCRIPT = [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
  { trigger: 'say cherry', reply: { text: 'CHERRY-REPLY-7' } },
];

/** `mam <args> --registry <the session's registry>`, with the session's environment unless told another. */
export function registryRun(session: ClaudeSession): (args: readonly string[], env?: NodeJS.ProcessEnv) => Promise<MamResult> {
  return (args, env = session.env) => mam([...args, '--registry', session.box.registry], env);
}

/** The session's registry entry named `name`, undefined when there is none. */
export async function registryEntry(session: ClaudeSession, name: string): Promise<RegistryEntry | undefined> {
  const file = session.box.registry;
  return parseRegistry(file, await readFile(file, 'utf8')).entries.find((item) => item.name === name);
}

export interface Conversation {
  /** Claude's project folder of the workspace, where its transcripts are. */
  readonly projectDir: string;
  /** The conversation's id: its transcript's name. */
  readonly sessionId: string;
}

/**
 * Once the Claude in `target` shows its empty idle prompt: says banana, waits for the reply and the prompt again, and
 * returns the conversation, the first transcript in the workspace's project folder.
 */
export async function firstExchange(session: ClaudeSession, target: string): Promise<Conversation> {
  const { box, server } = session;
  await waitForScreen(box, server, target, isEmptyIdlePrompt, 30_000, 'the idle prompt');
  await typeLine(box, server, target, 'please say banana');
  await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isEmptyIdlePrompt(text), 30_000, 'the scripted reply');
  const projectDir = path.join(box.home, '.claude', 'projects', claudeProjectKey(session.workspace));
  const [transcriptName] = (await readdir(projectDir)).filter((file) => file.endsWith('.jsonl'));
  return { projectDir, sessionId: transcriptName!.replace(/\.jsonl$/, '') };
}

/**
 * Once the Claude in `target` was brought back into `conversation` (`how`: 'resume', 'restore'): the first reply is
 * on screen, cherry is answered, and the answer lands in the same transcript, still the project's only one. Returns
 * that transcript's text.
 */
export async function secondExchange(session: ClaudeSession, target: string, conversation: Conversation, how: string): Promise<string> {
  const { box, server } = session;
  await waitForScreen(box, server, target, isEmptyIdlePrompt, 30_000, `the idle prompt after ${how}`);
  expect(await capture(box, server, target)).toContain('BANANA-REPLY-42');
  await typeLine(box, server, target, 'now say cherry');
  await waitForScreen(box, server, target, (text) => text.includes('CHERRY-REPLY-7') && isEmptyIdlePrompt(text), 30_000, `the reply after ${how}`);
  // The screen shows the reply a moment before the transcript line lands: poll the file.
  const file = path.join(conversation.projectDir, `${conversation.sessionId}.jsonl`);
  await waitFor(async () => (await readFile(file, 'utf8')).includes('CHERRY-REPLY-7'), 10_000, 100);
  expect((await readdir(conversation.projectDir)).filter((name) => name.endsWith('.jsonl'))).toEqual([`${conversation.sessionId}.jsonl`]);
  return readFile(file, 'utf8');
}
