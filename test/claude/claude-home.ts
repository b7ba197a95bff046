import { readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { waitFor } from '../../src/util/wait.js';
import { isNativeExecutable } from '../helpers/real-agent.js';
import { REPO } from '../helpers/sandbox.js';

/** Any string works as a key against the scripted server; its last 20 characters are what gets approved. */
export const TEST_API_KEY = 'sk-ant-api03-scripted-model-server-test-key-0000000000';

export interface ClaudeHomeOptions {
  /** Absolute workspace paths whose trust dialog counts as accepted. */
  readonly workspaces: readonly string[];
  readonly apiKey?: string;
}

/**
 * Writes `$HOME/.claude.json` so an offline `claude` goes straight to its prompt: onboarding done, the trust
 * dialog accepted for each workspace, and the custom API key approved (by its last 20 characters).
 * See docs/claude-harness.md, 'A throw-away home'.
 */
export async function prepareClaudeHome(home: string, options: ClaudeHomeOptions): Promise<string> {
  const apiKey = options.apiKey ?? TEST_API_KEY;
  const projects: Record<string, { hasTrustDialogAccepted: true }> = {};
  for (const workspace of options.workspaces) projects[path.resolve(workspace)] = { hasTrustDialogAccepted: true };
  const config = {
    hasCompletedOnboarding: true,
    theme: 'dark',
    projects,
    customApiKeyResponses: { approved: [apiKey.slice(-20)], rejected: [] as string[] },
  };
  await mkdir(home, { recursive: true });
  const file = path.join(home, '.claude.json');
  await writeFile(file, JSON.stringify(config, null, 2) + '\n');
  return file;
}

export interface ClaudeEnvOptions {
  readonly home: string;
  readonly serverUrl: string;
  readonly apiKey?: string;
}

/**
 * The environment the `claude` process needs to talk to the scripted server from a throw-away home: the five
 * variables of docs/claude-harness.md, plus `CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1`, without which
 * 2.1.197 starts a `git clone` of the official plugin marketplace (from GitHub) into `$HOME/.claude/plugins` at
 * start-up. `CLAUDE_CODE_TMPDIR` keeps its scratch folder (`<tmp>/claude-<uid>/<project>/…`: task outputs, shell
 * snapshots) in the throw-away home; left at the default it is under /tmp, and outlives the test.
 */
export function claudeEnv(options: ClaudeEnvOptions): Record<string, string> {
  return {
    ANTHROPIC_API_KEY: options.apiKey ?? TEST_API_KEY,
    ANTHROPIC_BASE_URL: options.serverUrl,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL: '1',
    CLAUDE_CODE_TMPDIR: path.join(options.home, '.tmp'),
    DISABLE_AUTOUPDATER: '1',
    HOME: options.home,
  };
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@anthropic-ai/claude-code-linux-x64',
  'linux-arm64': '@anthropic-ai/claude-code-linux-arm64',
  'linux-x64-musl': '@anthropic-ai/claude-code-linux-x64-musl',
  'linux-arm64-musl': '@anthropic-ai/claude-code-linux-arm64-musl',
  'darwin-x64': '@anthropic-ai/claude-code-darwin-x64',
  'darwin-arm64': '@anthropic-ai/claude-code-darwin-arm64',
};

let resolved: string | undefined;

/**
 * Absolute path of the installed native `claude` executable.
 *
 * `@anthropic-ai/claude-code`'s postinstall (denied in package.json's allowScripts) would hard-link the native
 * binary over the 500-byte stub `node_modules/.bin/claude` → `bin/claude.exe`. Without it the stub only prints
 * "claude native binary not installed", so prefer the binary in the platform package, which npm installs as an
 * optional dependency and which needs no script. It is also named `claude`, so `#{pane_current_command}` reads
 * `claude` (the `.bin` link's target would read `claude.exe`).
 */
export function claudeBin(): string {
  if (resolved !== undefined) return resolved;
  const candidates: string[] = [];
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  const musl = process.platform === 'linux' && report.header?.glibcVersionRuntime === undefined;
  const platformPackage = PLATFORM_PACKAGES[`${process.platform}-${process.arch}${musl ? '-musl' : ''}`];
  if (platformPackage !== undefined) {
    try {
      const require = createRequire(path.join(REPO, 'package.json'));
      candidates.push(path.join(path.dirname(require.resolve(`${platformPackage}/package.json`)), 'claude'));
    } catch {
      // Not installed for this platform (e.g. musl): fall back to the wrapper's binary.
    }
  }
  candidates.push(path.join(REPO, 'node_modules', '@anthropic-ai', 'claude-code', 'bin', 'claude.exe'));
  for (const candidate of candidates) {
    if (isNativeExecutable(candidate)) return (resolved = candidate);
  }
  throw new Error(`no native claude binary found (tried ${candidates.join(', ')}); run npm install`);
}

/** A `bin/` directory in the sandbox with `claude` → the npm package's native binary; returns a PATH that has it first. */
export async function claudeOnPath(root: string): Promise<string> {
  const bin = path.join(root, 'bin');
  await mkdir(bin, { recursive: true });
  await symlink(claudeBin(), path.join(bin, 'claude'));
  return `${bin}:${process.env['PATH']}`;
}

/**
 * Ends a test's tmux server and waits for every claude in it to exit (then SIGKILLs stragglers): claude writes its
 * session files on the way out, and removing its HOME under it fails or leaves files behind.
 */
export async function stopClaudes(tmux: (...args: string[]) => Promise<string>): Promise<void> {
  const pids = (await tmux('list-panes', '-a', '-F', '#{pane_pid}').catch(() => '')).split('\n').filter(Boolean).map(Number);
  await tmux('kill-server').catch(() => undefined);
  const alive = (pid: number): boolean => {
    try {
      return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  // As long as harness.smoke.test.ts always gave them: a loaded machine can take that long to write a transcript.
  await waitFor(() => !pids.some(alive), 60_000, 100);
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
}
