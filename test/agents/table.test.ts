import { describe, expect, it } from 'vitest';
import { AGENT_KINDS, artifactRoots } from '../../src/agents/index.js';

/** What the rest of mam derives from the agent table (src/agents/index.ts), pinned to what it was when spelled out. */
describe('the agent table', () => {
  it('lists the four kinds, each id once', () => {
    expect(AGENT_KINDS.map((kind) => kind.id)).toEqual(['claude', 'codex', 'gemini', 'agy']);
  });

  it("gives every kind's files directory under its id, from the environment", () => {
    expect(artifactRoots({}, '/h')).toEqual({ home: '/h', claude: '/h/.claude', codex: '/h/.codex', gemini: '/h/.gemini', agy: '/h/.gemini/antigravity-cli' });
    expect(artifactRoots({ CLAUDE_CONFIG_DIR: '/c', CODEX_HOME: '/x' }, '/h')).toMatchObject({ claude: '/c', codex: '/x', gemini: '/h/.gemini', agy: '/h/.gemini/antigravity-cli' });
    // An empty override is no override, as before.
    expect(artifactRoots({ CLAUDE_CONFIG_DIR: '', CODEX_HOME: '' }, '/h')).toMatchObject({ claude: '/h/.claude', codex: '/h/.codex' });
  });
});
