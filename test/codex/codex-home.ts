import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO } from '../helpers/sandbox.js';
import { cannotRun, isNativeExecutable } from '../helpers/real-agent.js';

/** The version test/codex/ was written against (package.json pins it); docs/agents.md records what it does. */
export const CODEX_VERSION = '0.171.0';

/** The platform packages `@openai/codex` lists as optional dependencies, by Node's platform and arch; Linux builds are musl. */
const PLATFORMS: Record<string, { package: string; triple: string }> = {
  'linux-x64': { package: '@openai/codex-linux-x64', triple: 'x86_64-unknown-linux-musl' },
  'linux-arm64': { package: '@openai/codex-linux-arm64', triple: 'aarch64-unknown-linux-musl' },
  'darwin-x64': { package: '@openai/codex-darwin-x64', triple: 'x86_64-apple-darwin' },
  'darwin-arm64': { package: '@openai/codex-darwin-arm64', triple: 'aarch64-apple-darwin' },
};

/**
 * The native `codex` executable of the installed platform package. `@openai/codex`'s own `bin/codex.js` is a Node
 * wrapper that (on Node 20, without `process.execve`) keeps running as the binary's parent, so a pane running it would
 * show `node` as its command; mam starts the binary itself, by its own name, as a user's global install does.
 */
export function codexBin(): string | undefined {
  const platform = PLATFORMS[`${process.platform}-${process.arch}`];
  if (!platform) return undefined;
  try {
    const require = createRequire(path.join(REPO, 'package.json'));
    const file = path.join(path.dirname(require.resolve(`${platform.package}/package.json`)), 'vendor', platform.triple, 'bin', 'codex');
    return isNativeExecutable(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Why the real Codex cannot run here (the tests skip, saying so), or undefined when it can. */
export function codexProblem(): string | undefined {
  const bin = codexBin();
  if (bin === undefined) return `no native codex for ${process.platform}-${process.arch} under node_modules/@openai (npm install)`;
  return cannotRun([bin, '--version'], /^codex-cli \d/);
}

export interface CodexHomeOptions {
  /** The scripted model server's base URL (`…/v1`). */
  readonly baseUrl: string;
  /** Absolute workspace paths Codex trusts without asking. */
  readonly workspaces: readonly string[];
}

/** TOML basic string. */
const quoted = (text: string): string => JSON.stringify(text);

/**
 * Writes `$HOME/.codex/config.toml` so an offline `codex` goes straight to its prompt with the scripted model: a model
 * provider whose `base_url` is the local server (Responses API, no OpenAI login), no update check, and the workspaces
 * trusted (else a "Do you trust this folder?" dialog comes first). See docs/codex-gemini-harness.md.
 */
export async function prepareCodexHome(home: string, options: CodexHomeOptions): Promise<string> {
  const lines = [
    'model = "scripted-model"',
    'model_provider = "scripted"',
    'check_for_update_on_startup = false',
    '',
    '[model_providers.scripted]',
    'name = "Scripted"',
    `base_url = ${quoted(options.baseUrl)}`,
    'wire_api = "responses"',
  ];
  for (const workspace of options.workspaces) lines.push('', `[projects.${quoted(path.resolve(workspace))}]`, 'trust_level = "trusted"');
  const dir = path.join(home, '.codex');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'config.toml');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}
