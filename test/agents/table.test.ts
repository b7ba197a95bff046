import { describe, expect, it } from 'vitest';
import { AGENT_KINDS, artifactRoots } from '../../src/agents/index.js';
import { DEFAULT_AGENT } from '../../src/config.js';
import { CONVERSATION_ID_FIELD } from '../../src/registry/schema.js';

/** What the rest of mam derives from the agent table (src/agents/index.ts), pinned to what it was when spelled out. */
describe('the agent table', () => {
  it('lists the four kinds, each id once; the default agent is one of them', () => {
    expect(AGENT_KINDS.map((kind) => kind.id)).toEqual(['claude', 'codex', 'gemini', 'agy']);
    expect(AGENT_KINDS.map((kind) => kind.id)).toContain(DEFAULT_AGENT);
  });

  it('names each kind its own conversation id field, of the shape the registry checks (the names are a public contract)', () => {
    const fields = AGENT_KINDS.map((kind) => kind.conversationIdField);
    expect(fields).toEqual(['claude_session_id_own', 'codex_session_id_own', 'gemini_session_id_own', 'agy_conversation_id_own']);
    for (const field of fields) expect(field).toMatch(CONVERSATION_ID_FIELD);
  });

  it("gives every kind's files directory under its id, from the environment", () => {
    expect(artifactRoots({}, '/h')).toEqual({ home: '/h', claude: '/h/.claude', codex: '/h/.codex', gemini: '/h/.gemini', agy: '/h/.gemini/antigravity-cli' });
    expect(artifactRoots({ CLAUDE_CONFIG_DIR: '/c', CODEX_HOME: '/x' }, '/h')).toMatchObject({ claude: '/c', codex: '/x', gemini: '/h/.gemini', agy: '/h/.gemini/antigravity-cli' });
    // An empty override is no override, as before.
    expect(artifactRoots({ CLAUDE_CONFIG_DIR: '', CODEX_HOME: '' }, '/h')).toMatchObject({ claude: '/h/.claude', codex: '/h/.codex' });
  });
});
