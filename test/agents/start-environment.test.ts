import { describe, expect, it } from 'vitest';
import { startEnvironment } from '../../src/agents/index.js';

/** What `mam create` records as `start_env` (docs/lifecycle.md, 'What every start records'). */

const ENV = {
  PATH: '/opt/bin:/usr/bin',
  HOME: '/home/u',
  LANG: 'C.UTF-8',
  SHELL: '/bin/bash',
  CLAUDE_CONFIG_DIR: '/home/u/.claude-work',
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
  ANTHROPIC_API_KEY: 'sk-secret',
  ANTHROPIC_AUTH_TOKEN: 'secret',
  CODEX_HOME: '/home/u/.codex-work',
  OPENAI_API_KEY: 'sk-other',
  GEMINI_CLI_HOME: '/home/u/g',
  AWS_SECRET_ACCESS_KEY: 'x',
  UNSET: undefined,
};

describe('startEnvironment', () => {
  it("keeps the common variables and the agent's own, never a secret nor another agent's", () => {
    expect(startEnvironment('claude', ENV)).toEqual({
      PATH: '/opt/bin:/usr/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      CLAUDE_CONFIG_DIR: '/home/u/.claude-work',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
    });
    expect(startEnvironment('codex', ENV)).toEqual({ PATH: '/opt/bin:/usr/bin', HOME: '/home/u', LANG: 'C.UTF-8', CODEX_HOME: '/home/u/.codex-work' });
    expect(startEnvironment('gemini', ENV)).toMatchObject({ GEMINI_CLI_HOME: '/home/u/g' });
  });

  it('gives any other command only the common ones', () => {
    expect(startEnvironment('aider', ENV)).toEqual({ PATH: '/opt/bin:/usr/bin', HOME: '/home/u', LANG: 'C.UTF-8' });
  });
});
