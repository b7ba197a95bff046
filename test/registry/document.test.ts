import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/util/errors.js';
import { appendEntry, parseRegistry, setEntryFields, stringifyRegistry } from '../../src/registry/document.js';

const HAND_WRITTEN = `# Sessions I keep an eye on — edited by hand, do not reformat
owner: me   # an unknown top-level key
tmux_sessions:
  # the landing page
  - name: lab-landing-page-creator-claude
    agent: claude
    workspace: /home/u/lab/landing-page
    status: running            # flipped by the monitor
    tmux_server: mam
    pane: {pid: 201132, cmd: claude, cwd: /home/u/lab/landing-page}
    claude_session_id_own: null
    my_note: "keep this"       # unknown field
    created_at: 2026-11-20T10:00:00Z
  - name: other-creator-agy
    workspace: /home/u/other
    agent: agy
    status: stopped
`;

describe('registry document', () => {
  it('keeps comments, key order, flow style and unknown fields through an edit', () => {
    const registry = parseRegistry('r.yaml', HAND_WRITTEN);
    expect(registry.entries.map((entry) => entry.name)).toEqual(['lab-landing-page-creator-claude', 'other-creator-agy']);
    expect(registry.entries[0]).toHaveProperty('my_note', 'keep this');

    setEntryFields(registry.document, 'lab-landing-page-creator-claude', { status: 'terminated', termination_mode: 'auto-detected', pane: { pid: 7, cmd: 'claude', cwd: '/x' } });
    const text = stringifyRegistry(registry.document);

    expect(text).toContain('# Sessions I keep an eye on — edited by hand, do not reformat');
    expect(text).toContain('owner: me # an unknown top-level key');
    expect(text).toContain('  # the landing page');
    expect(text).toContain('status: terminated # flipped by the monitor');
    expect(text).toContain('pane: { pid: 7, cmd: claude, cwd: /x }');
    expect(text).toContain('my_note: "keep this" # unknown field');
    // Untouched entry keeps its own (odd) key order; new keys go at the end of the edited entry.
    expect(text).toMatch(/name: other-creator-agy\n\s+workspace: \/home\/u\/other\n\s+agent: agy/);
    expect(text).toMatch(/created_at: 2026-11-20T10:00:00Z\n\s+termination_mode: auto-detected\n/);
    expect(parseRegistry('r.yaml', text).entries[0]).toMatchObject({ status: 'terminated', my_note: 'keep this' });
  });

  it('appends to a missing, null or empty-flow list as a block list', () => {
    for (const start of ['', 'tmux_sessions:\n', 'tmux_sessions: []\n', '# only a comment\n']) {
      const registry = parseRegistry('r.yaml', start);
      appendEntry(registry.document, { name: 'n-creator-claude', agent: 'claude', workspace: '/w', status: 'running', pane: { pid: 1, cmd: 'claude', cwd: '/w' } });
      const text = stringifyRegistry(registry.document);
      expect(text, JSON.stringify(start)).toMatch(/tmux_sessions:\n {2}- name: n-creator-claude\n/);
      expect(parseRegistry('r.yaml', text).entries).toHaveLength(1);
    }
  });

  it('names file, line and column for malformed YAML', () => {
    const bad = 'tmux_sessions:\n  - name: a\n    agent: [claude\n    status: running\n';
    expect(() => parseRegistry('/reg/agent-sessions.yaml', bad)).toThrow(RegistryError);
    expect(() => parseRegistry('/reg/agent-sessions.yaml', bad)).toThrow(/^\/reg\/agent-sessions\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('refuses a duplicated key, and a top level or list of the wrong shape', () => {
    expect(() => parseRegistry('r.yaml', 'tmux_sessions: []\ntmux_sessions: []\n')).toThrow(/^r\.yaml:2:\d+: invalid YAML: Map keys must be unique/);
    expect(() => parseRegistry('r.yaml', '- just\n- a list\n')).toThrow(/^r\.yaml:1: expected a mapping/);
    expect(() => parseRegistry('r.yaml', 'tmux_sessions: yes please\n')).toThrow(/^r\.yaml:1: `tmux_sessions` must be a list/);
  });

  it('reports an entry failing the schema with its line, and keeps the others', () => {
    const text = `tmux_sessions:
  - name: good-creator-claude
    agent: claude
    workspace: /w
    status: running
  - name: bad-creator-claude
    agent: claude
    workspace: relative/path
    status: sleeping
  - 42
`;
    const registry = parseRegistry('r.yaml', text);
    expect(registry.entries.map((entry) => entry.name)).toEqual(['good-creator-claude']);
    expect(registry.invalid).toEqual([
      expect.objectContaining({ index: 1, name: 'bad-creator-claude', line: 6, reason: expect.stringMatching(/workspace: workspace must be an absolute path.*status/) }),
      expect.objectContaining({ index: 2, line: 10 }),
    ]);
    expect(registry.names.has('bad-creator-claude')).toBe(true);
  });

  it('rejects hostile names', () => {
    const names = ['a;rm -rf ~', 'x:y.z', 'line\nbreak', '../escape', 'n'.repeat(300), ''];
    const text = `tmux_sessions:\n${names.map((name) => `  - {name: ${JSON.stringify(name)}, agent: claude, workspace: /w, status: running}\n`).join('')}`;
    const registry = parseRegistry('r.yaml', text);
    expect(registry.entries).toEqual([]);
    expect(registry.invalid).toHaveLength(names.length);
    for (const bad of registry.invalid) expect(bad.reason).toMatch(/name: session names are 1–128 characters/);
  });

  it('rejects conversation ids that could escape a directory', () => {
    const registry = parseRegistry('r.yaml', 'tmux_sessions:\n  - {name: a, agent: claude, workspace: /w, status: running, claude_session_id_own: ../../etc/passwd}\n');
    expect(registry.invalid[0]?.reason).toMatch(/claude_session_id_own: conversation ids are letters/);
  });

  it('knows the conversation id fields by their shape, not by agent: every `…_session_id_own` / `…_conversation_id_own`', () => {
    const line = (fields: string): string => `  - {name: a, agent: claude, workspace: /w, ${fields.includes('status:') ? '' : 'status: running, '}${fields}}\n`;
    const reason = (fields: string): string | undefined => parseRegistry('r.yaml', `tmux_sessions:\n${line(fields)}`).invalid[0]?.reason;
    expect(reason('agy_conversation_id_own: a/b')).toBe('agy_conversation_id_own: conversation ids are letters, digits, _ and - only');
    expect(reason('newagent_session_id_own: ../x')).toBe('newagent_session_id_own: conversation ids are letters, digits, _ and - only');
    expect(reason('codex_session_id_own: 12')).toMatch(/^codex_session_id_own: Invalid input: expected string/);
    // Said beside another broken field, as when they were the schema's own fields.
    expect(reason('status: sleeping, gemini_session_id_own: ../x')).toMatch(/^status: .*; gemini_session_id_own: conversation ids are letters/);
    const entry = parseRegistry('r.yaml', `tmux_sessions:\n${line('newagent_session_id_own: conv-1, codex_session_id_own: null')}`).entries[0];
    expect(entry?.['newagent_session_id_own']).toBe('conv-1');
    expect(entry?.codex_session_id_own).toBeNull();
  });

  it('marks every entry sharing a duplicated name invalid', () => {
    const entry = '  - {name: twin, agent: claude, workspace: /w, status: running}\n';
    const registry = parseRegistry('r.yaml', `tmux_sessions:\n${entry}${entry}  - {name: single, agent: claude, workspace: /w, status: running}\n`);
    expect(registry.entries.map((item) => item.name)).toEqual(['single']);
    expect(registry.invalid.map((bad) => [bad.index, bad.reason])).toEqual([
      [0, 'duplicate name: 2 entries are called twin'],
      [1, 'duplicate name: 2 entries are called twin'],
    ]);
  });
});
