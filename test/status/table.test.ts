import { describe, expect, it } from 'vitest';
import { statusTable, type StatusReport, type StatusRow } from '../../src/status/report.js';
import { allHostsTable, type AllHostsReport } from '../../src/mqtt/all-hosts.js';
import type { AgentStatusMessage } from '../../src/mqtt/status-message.js';

/**
 * Tables as large as real registries get. The registry of ~125k entries crashed `mam status` with
 * "Maximum call stack size exceeded" (a spread of one argument per row into Math.max); the limit depends on the
 * stack size, so these use twice that many rows to fail the same way on any machine that had the bug.
 */
const ROWS = 250_000;

describe('status tables with a very large registry', () => {
  it('statusTable lays out every row, widths from the longest cell', () => {
    const row = (index: number): StatusRow => ({
      name: `s${index}`,
      agent: 'claude',
      status: 'stopped',
      tmux_server: null,
      tmux: 'gone',
      conversation_id: null,
      workspace: '/w',
      since: null,
      age_seconds: null,
      job: null,
      activity: null,
      activity_source: null,
      background: [],
      limited_until: null,
    });
    const report: StatusReport = { registry: '/r.yaml', registry_exists: true, sessions: Array.from({ length: ROWS }, (_, index) => row(index)), invalid: [] };

    const lines = statusTable(report).split('\n');

    expect(lines).toHaveLength(ROWS + 2);
    expect(lines[1]!.split(/\s+/)).toEqual(['NAME', 'AGENT', 'STATUS', 'TMUX', 'ACTIVITY', 'CONVERSATION', 'AGE', 'WORKSPACE']);
    // The longest name (s249999, 7 characters) sets the first column's width.
    const longest = `s${ROWS - 1}`;
    expect(lines.at(-1)).toBe(`${longest}  claude  stopped  gone  -         -             -    /w`);
    expect(lines[2]!.startsWith(`s0${' '.repeat(longest.length - 2)}  claude`)).toBe(true);
  });

  it('allHostsTable too', () => {
    const at = '2026-11-22T10:00:00Z';
    const message = (index: number): AgentStatusMessage => ({
      host: 'h',
      session: `s${index}`,
      conversation_id: null,
      agent: 'claude',
      status: 'waiting',
      agents: {},
      needs_approval_since: null,
      cwd: '/w',
      updated_at: at,
      seq: 1,
    });
    const report: AllHostsReport = { broker: 'mqtt://b', sessions: Array.from({ length: ROWS }, (_, index) => message(index)), invalid: 0, complete: true };

    const lines = allHostsTable(report, Date.parse(at)).split('\n');

    expect(lines).toHaveLength(ROWS + 1);
    expect(lines.at(-1)).toBe(`h     s${ROWS - 1}  claude  waiting   0s     0       /w`);
  });
});
