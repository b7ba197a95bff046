import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RegistryError } from '../../src/util/errors.js';
import { parseRegistry, renderRegistry, type ParsedRegistry } from '../../src/registry/document.js';
import { itemValue, splitLayout } from '../../src/registry/layout.js';

/** Large registries are read item by item; these tests turn that on for small texts and compare with the whole-file parse. */
const LAYOUT = { layoutAboveBytes: 0 };
const WHOLE = { layoutAboveBytes: Number.POSITIVE_INFINITY };

const MIXED = `# kept at the top
owner: me   # unknown top-level key
tmux_sessions:
  # the first one
  - {name: a1, agent: claude, workspace: /w/a, status: terminated, pane: {pid: 12, cmd: claude, cwd: /w/a}, mcp_attachments: [], claude_session_id_own: null, terminated_at: 2026-11-21T10:00:00Z, terminated_at_epoch: 1795255200, resumable: false, weird: -3.5e2, t: True, n: ~, h: 0x1f, x: a:b}
  - name: b2            # block style
    agent: codex
    workspace: /w/b
    status: running
    note: |
      - not an item
      # not a comment
    pane: {pid: 3, cmd: codex, cwd: /w/b}

  - {name: "c3", agent: claude, workspace: /w/c, status: stopped, stopped_at: 2026-11-22T00:00:00Z}  # quoted, commented
  - {name: bad, agent: claude, workspace: relative, status: running}
  - {name: a1, agent: claude, workspace: /w/dup, status: stopped}
# trailing comment of the list
tmux_panes:
  - {pane_id: "%1", tmux_server: mam, status: active}
`;

function summary(registry: ParsedRegistry) {
  return { entries: registry.entries, invalid: registry.invalid, names: [...registry.names] };
}

describe('large-registry layout', () => {
  it('cuts the list into items with their leading comments, and leaves head and tail alone', () => {
    const layout = splitLayout(MIXED)!;
    expect(layout.indent).toBe(2);
    expect(layout.items.map((item) => item.line)).toEqual([5, 6, 15, 16, 17]);
    expect(layout.items[0]!.text.startsWith('  # the first one\n  - {name: a1')).toBe(true);
    expect(layout.items[1]!.text).toContain('- not an item');
    expect(layout.tail.startsWith('# trailing comment of the list\ntmux_panes:')).toBe(true);
    expect(layout.head + layout.items.map((item) => item.text).join('') + layout.tail).toBe(MIXED);
  });

  it('reads the same entries, invalid entries (with lines) and names as the whole-file parse', () => {
    expect(summary(parseRegistry('r.yaml', MIXED, LAYOUT))).toEqual(summary(parseRegistry('r.yaml', MIXED, WHOLE)));
    expect(parseRegistry('r.yaml', MIXED, LAYOUT).invalid.map((bad) => [bad.name, bad.line])).toEqual([['a1', 5], ['bad', 16], ['a1', 17]]);
  });

  it('reads one-line flow maps exactly as the yaml package does', () => {
    const lines = [
      '{name: s1, agent: claude, workspace: /w, status: terminated}',
      '{a: 1, b: -2, c: +3, d: 1.5, e: .5, f: 1e3, g: null, h: Null, i: NULL, j: ~, k: true, l: False, m: yes, n: no, o: 007, p: 2026-11-20T10:00:00Z}',
      '{a: {b: {c: [1, x, {d: e}]}}, e: [], f: {}}',
      '{a: b c  , d: e/f-g_h.i}',
      '{a: .inf, b: -.Inf, c: .nan, d: 0o17, e: 0x1F, f: 1.}',
      '{a: x # not a comment?, b: y}',
      '{a: "q", b: \'r\', c: &x s, d: !!str 5}',
      '{a: 1,}',
      '{a: -, b: - c}',
      '{a: 1, a: 2}',
    ];
    for (const line of lines) {
      const text = `tmux_sessions:\n  - ${line}\n`;
      let expected: unknown;
      try {
        expected = parse(text, { uniqueKeys: true });
      } catch {
        expect(() => parseRegistry('r.yaml', text, LAYOUT), line).toThrow(RegistryError);
        continue;
      }
      const layout = splitLayout(text)!;
      const value = itemValue(layout.items[0]!, layout.indent);
      expect(value.ok && value.value, line).toEqual((expected as { tmux_sessions: unknown[] }).tmux_sessions[0]);
    }
  });

  it('edits touch only their items; the rest of the file keeps its bytes and comments', () => {
    const registry = parseRegistry('r.yaml', MIXED, LAYOUT);
    expect(registry.sessions.set('b2', { status: 'terminated' })).toBe(true);
    expect(registry.sessions.unset('b2', ['pane'])).toBe(true);
    expect(registry.sessions.set('nobody', { status: 'terminated' })).toBe(false);
    expect(registry.sessions.remove(new Set(['c3', 'nobody']))).toBe(1);
    registry.sessions.append({ name: 'd4', agent: 'claude', workspace: '/w/d', status: 'running', pane: { pid: 9, cmd: 'claude', cwd: '/w/d' } });
    const text = renderRegistry(registry);

    expect(text.startsWith(MIXED.slice(0, MIXED.indexOf('  - name: b2')))).toBe(true);
    expect(text).toContain('  - name: b2 # block style\n    agent: codex\n    workspace: /w/b\n    status: terminated\n    note: |\n      - not an item\n      # not a comment\n');
    expect(text).not.toContain('c3');
    expect(text).toContain('  - {name: bad, agent: claude, workspace: relative, status: running}\n  - {name: a1, agent: claude, workspace: /w/dup, status: stopped}\n  - name: d4\n    agent: claude');
    expect(text).toContain('    pane: { pid: 9, cmd: claude, cwd: /w/d }\n# trailing comment of the list\ntmux_panes:');

    // The same edits on the whole Document give the same registry.
    const whole = parseRegistry('r.yaml', MIXED, WHOLE);
    whole.sessions.set('b2', { status: 'terminated' });
    whole.sessions.unset('b2', ['pane']);
    whole.sessions.remove(new Set(['c3']));
    whole.sessions.append({ name: 'd4', agent: 'claude', workspace: '/w/d', status: 'running', pane: { pid: 9, cmd: 'claude', cwd: '/w/d' } });
    expect(parse(text)).toEqual(parse(renderRegistry(whole)));
  });

  it('asking for the whole Document after layout edits sees them, and later edits go to it', () => {
    const registry = parseRegistry('r.yaml', MIXED, LAYOUT);
    registry.sessions.remove(new Set(['c3']));
    expect(JSON.stringify(registry.document.toJSON())).not.toContain('c3');
    registry.sessions.set('b2', { status: 'stopped' });
    expect(parseRegistry('r.yaml', renderRegistry(registry), WHOLE).entries.find((entry) => entry.name === 'b2')?.status).toBe('stopped');
  });

  it('falls back to the whole-file parse for shapes it does not cut, and still names file and line of an error', () => {
    for (const text of ['tmux_sessions: []\n', '---\ntmux_sessions:\n  - {name: a, agent: claude, workspace: /w, status: running}\n', 'x:\n  tmux_sessions:\n    - {}\n']) {
      expect(splitLayout(text), text).toBeUndefined();
    }
    const bad = 'tmux_sessions:\n  - {name: a, agent: claude, workspace: /w, status: running}\n  - name: b\n    agent: [claude\n';
    expect(() => parseRegistry('/r.yaml', bad, LAYOUT)).toThrow(/^\/r\.yaml:\d+:\d+: invalid YAML: /);
    const dupKey = 'tmux_sessions:\n  - {name: a, name: b, agent: claude, workspace: /w, status: running}\n';
    expect(() => parseRegistry('/r.yaml', dupKey, LAYOUT)).toThrow(RegistryError);
  });

  it('appends after a last item that has no final newline', () => {
    const text = 'tmux_sessions:\n  - {name: a, agent: claude, workspace: /w, status: stopped}';
    const registry = parseRegistry('r.yaml', text, LAYOUT);
    registry.sessions.append({ name: 'b', agent: 'claude', workspace: '/w', status: 'running' });
    expect(parseRegistry('r.yaml', renderRegistry(registry), WHOLE).entries.map((entry) => entry.name)).toEqual(['a', 'b']);
  });
});
