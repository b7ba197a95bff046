import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO } from '../helpers/sandbox.js';
import { cannotRun } from '../helpers/real-agent.js';

/** The version test/gemini/ was written against (package.json pins it); docs/agents.md records what it does. */
export const GEMINI_VERSION = '0.61.0';

/** Any string works as a key against the scripted server. */
export const TEST_API_KEY = 'scripted-model-server-test-key';

/** `@google/gemini-cli`'s entry point, a Node script (`#!/usr/bin/env node`), as npm links it to `gemini`. */
export function geminiBin(): string | undefined {
  const file = path.join(REPO, 'node_modules', '@google', 'gemini-cli', 'bundle', 'gemini.js');
  return existsSync(file) ? file : undefined;
}

/** Why the real Gemini CLI cannot run here (the tests skip, saying so), or undefined when it can. */
export function geminiProblem(): string | undefined {
  const bin = geminiBin();
  if (bin === undefined) return 'node_modules/@google/gemini-cli is not installed (npm install)';
  return cannotRun([process.execPath, bin, '--version'], /^\d+\.\d+\.\d+/);
}

export interface GeminiHomeOptions {
  /** Absolute workspace paths Gemini trusts without asking. */
  readonly workspaces: readonly string[];
}

/**
 * Writes `$HOME/.gemini/settings.json` and `trustedFolders.json` so an offline `gemini` goes straight to its prompt:
 * API-key auth chosen (else "How would you like to authenticate?"), each workspace trusted (else "Do you trust the
 * files in this folder?", then a restart), no update check, no usage statistics. See docs/codex-gemini-harness.md.
 */
export async function prepareGeminiHome(home: string, options: GeminiHomeOptions): Promise<void> {
  const dir = path.join(home, '.gemini');
  await mkdir(dir, { recursive: true });
  const settings = {
    security: { auth: { selectedType: 'gemini-api-key' } },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    privacy: { usageStatisticsEnabled: false },
  };
  await writeFile(path.join(dir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
  const trusted = Object.fromEntries(options.workspaces.map((workspace) => [path.resolve(workspace), 'TRUST_FOLDER']));
  await writeFile(path.join(dir, 'trustedFolders.json'), `${JSON.stringify(trusted, null, 2)}\n`);
}

/** What the `gemini` process needs to talk to the scripted server: the key, and the base URL the Gemini API client takes. */
export function geminiEnv(serverUrl: string): Record<string, string> {
  return { GEMINI_API_KEY: TEST_API_KEY, GOOGLE_GEMINI_BASE_URL: serverUrl };
}
