import type { RunRow, TaskRow } from './board.js';

/**
 * What the real CLI prints, byte for byte: Python's `json.dumps`, `repr` and `strftime` as the 0.18-era
 * `hermes_cli/kanban.py` uses them, and the row-to-dict shapes of its `--json` output.
 */

/** `json.dumps(value, indent=2[, ensure_ascii=False])`. */
export function pyJson(value: unknown, ensureAscii: boolean): string {
  const text = JSON.stringify(value, null, 2);
  return ensureAscii ? text.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

/** Python's `repr` of a JSON value, as the text views print event payloads. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let body = '';
    for (const ch of value) {
      const code = ch.codePointAt(0) ?? 0;
      if (ch === '\\') body += '\\\\';
      else if (ch === quote) body += `\\${quote}`;
      else if (ch === '\n') body += '\\n';
      else if (ch === '\r') body += '\\r';
      else if (ch === '\t') body += '\\t';
      else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`;
      else body += ch;
    }
    return `${quote}${body}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => `${pyRepr(key)}: ${pyRepr(item)}`)
      .join(', ')}}`;
  }
  return String(value);
}

export function pyFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

/** `time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))`, '' for 0/None. */
export function fmtTs(ts: number | null | undefined): string {
  if (!ts) return '';
  const d = new Date(ts * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function taskToDict(t: TaskRow): Record<string, unknown> {
  return {
    id: t.id,
    title: t.title,
    body: t.body,
    assignee: t.assignee,
    status: t.status,
    priority: t.priority,
    tenant: t.tenant,
    workspace_kind: t.workspace_kind,
    workspace_path: t.workspace_path,
    branch_name: t.branch_name,
    project_id: t.project_id,
    created_by: t.created_by,
    created_at: t.created_at,
    started_at: t.started_at,
    completed_at: t.completed_at,
    result: t.result,
    skills: t.skills && t.skills.length > 0 ? [...t.skills] : [],
    max_retries: t.max_retries,
    session_id: t.session_id,
    workflow_template_id: t.workflow_template_id,
    current_step_key: t.current_step_key,
  };
}

export function runToShowDict(r: RunRow): Record<string, unknown> {
  return {
    id: r.id,
    profile: r.profile,
    step_key: r.step_key,
    status: r.status,
    outcome: r.outcome,
    summary: r.summary,
    error: r.error,
    metadata: r.metadata,
    worker_pid: r.worker_pid,
    started_at: r.started_at,
    ended_at: r.ended_at,
  };
}

export function runToRunsDict(r: RunRow): Record<string, unknown> {
  return {
    id: r.id,
    profile: r.profile,
    status: r.status,
    outcome: r.outcome,
    started_at: r.started_at,
    ended_at: r.ended_at,
    summary: r.summary,
    error: r.error,
    metadata: r.metadata,
    worker_pid: r.worker_pid,
    step_key: r.step_key,
  };
}
