#!/usr/bin/env node
// A self-contained demo of `mam reconcile`: a private tmux server and a temp HOME with one case of each
// drift class, a dry run, a real pass, and a second pass that changes nothing. Touches none of your own
// tmux, registry or agent files, and removes everything it made on exit.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeProjectKey } from '../dist/agents/claude.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(path.join(os.tmpdir(), 'mam-demo-'));
const server = `mam-demo-${process.pid}`;
const env = { ...process.env, HOME: path.join(root, 'home'), TMUX_TMPDIR: path.join(root, 'tmux'), MAM_LOG_LEVEL: 'warn' };
delete env.TMUX;
const registry = path.join(root, '.hermes', 'agent-sessions.yaml');
const workspace = (name) => path.join(root, 'work', name);

const tmux = (...args) => execFileSync('tmux', ['-L', server, ...args], { env, encoding: 'utf8' });
const cleanup = () => {
  spawnSync('tmux', ['-L', server, 'kill-server'], { env });
  rmSync(root, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

function mam(...args) {
  const result = spawnSync(process.execPath, [path.join(repo, 'dist/cli/main.js'), ...args, '--registry', registry, '--tmux-server', server], {
    env,
    encoding: 'utf8',
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.status;
}

function section(title) {
  console.log(`\n\x1b[1m── ${title}\x1b[0m`);
}

try {
  for (const dir of [env.HOME, env.TMUX_TMPDIR, path.dirname(registry), ...['web', 'api', 'docs', 'old'].map(workspace)]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  // Live agents (a long sleep stands in for each agent process).
  for (const [name, dir] of [['demo-web-creator-claude', 'web'], ['demo-api-creator-claude', 'api'], ['demo-docs-creator-codex', 'docs']]) {
    tmux('new-session', '-d', '-s', name, '-c', workspace(dir), 'sleep 100000');
  }
  // demo-web's first message has been sent: its transcript exists, the registry has no id yet (C).
  const webId = '4e432142-3b8e-4dad-8bee-4193e7fec8e1';
  const projects = path.join(env.HOME, '.claude', 'projects', claudeProjectKey(workspace('web')));
  mkdirSync(projects, { recursive: true });
  const line = { type: 'user', sessionId: webId, cwd: workspace('web'), timestamp: new Date().toISOString(), message: { role: 'user', content: 'hello' } };
  writeFileSync(path.join(projects, `${webId}.jsonl`), `${JSON.stringify(line)}\n`);

  writeFileSync(
    registry,
    `# The demo registry. Comments like this one survive mam's rewrites.
tmux_sessions:
  - name: demo-old-creator-claude      # A: registered running, its tmux session is gone
    agent: claude
    workspace: ${workspace('old')}
    status: running
    tmux_server: ${server}
    pane: {pid: 201132, cmd: claude, cwd: ${workspace('old')}}
    created_at: 2026-11-20T10:00:00Z
  - name: demo-web-creator-claude      # C: conversation appeared, id not recorded yet
    agent: claude
    workspace: ${workspace('web')}
    status: running
    tmux_server: ${server}
    claude_session_id_own: null
    created_at: 2026-11-20T10:00:00Z
  - name: demo-api-creator-claude      # D: recorded id, its transcript is gone
    agent: claude
    workspace: ${workspace('api')}
    status: running
    tmux_server: ${server}
    claude_session_id_own: 87dc548e-1111-4222-8333-444455556666
    created_at: 2026-11-20T10:00:00Z
# demo-docs-creator-codex is alive in tmux but not listed here (B)
`,
  );

  section(`tmux -L ${server} ls`);
  process.stdout.write(tmux('ls'));
  section('mam reconcile --once --dry-run   (what would change; writes nothing)');
  mam('reconcile', '--once', '--dry-run');
  section('mam reconcile --once --emit-diff   (the JSON a monitor consumes; writes the registry)');
  mam('reconcile', '--once', '--emit-diff');
  section('the registry now');
  process.stdout.write(readFileSync(registry, 'utf8'));
  section('mam reconcile --once   (again: only the stale id is still reported; nothing written)');
  mam('reconcile', '--once');
  console.log('\nFor the real thing: mam reconcile --help');
} finally {
  cleanup();
}
