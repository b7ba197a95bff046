#!/usr/bin/env node
// Makes docs/img/ui.png and docs/img/status-line.png, the README's pictures of `mam ui` and of the tmux status-line
// segment, from a real run: a demo fleet on a private tmux server
// and a temp HOME (fact files written as hooks would, one session killed to show "gone"), `mam ui` in a 132×20
// pane, `tmux capture-pane -e -p` of it, the ANSI turned into HTML, and headless Chromium's screenshot of that.
// Needs `npm run build` and Chromium (`apt-get install -y chromium`). Touches none of your own tmux or files and
// removes everything it made.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const output = path.join(repo, 'docs', 'img', 'ui.png');
const statusOutput = path.join(repo, 'docs', 'img', 'status-line.png');
const root = mkdtempSync(path.join(os.tmpdir(), 'mam-shot-'));
const home = path.join(root, 'home');
const env = { PATH: process.env.PATH, HOME: home, TMUX_TMPDIR: path.join(root, 'tmux'), XDG_CACHE_HOME: path.join(home, '.cache'), MAM_HOST: 'laptop', MAM_WATCH: '0', MAM_LOG_LEVEL: 'warn', LANG: 'C.UTF-8', TERM: 'xterm-256color' };
const agents = `mam-shot-agents-${process.pid}`;
const term = `mam-shot-term-${process.pid}`;
const outer = `mam-shot-outer-${process.pid}`;
const tmux = (server, ...args) => execFileSync('tmux', ['-L', server, ...args], { env, encoding: 'utf8' });
const cleanup = () => {
  for (const server of [agents, term, outer]) spawnSync('tmux', ['-L', server, 'kill-server'], { env });
  rmSync(root, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ago = (seconds) => new Date(Date.now() - seconds * 1000).toISOString();

// name, agent, state, seconds in it, and for approvals the tool and command.
const FLEET = [
  ['api-auth', 'claude', 'needs_approval', 190, 'Bash', 'npm run db:migrate -- --env staging'],
  ['docs-site', 'codex', 'needs_approval', 42, 'Bash', 'rm -rf site/build'],
  ['payments', 'claude', 'gone'],
  ['flaky-tests', 'agy', 'dead', 3 * 3600],
  ['landing-page', 'gemini', 'waiting', 5 * 60 + 12],
  ['infra', 'claude', 'waiting', 12 * 60],
  ['search', 'codex', 'working', 2 * 60 + 5],
  ['web-checkout', 'claude', 'working', 20],
  ['data-pipeline', 'claude', 'working', 47 * 60],
  ['old-spike', 'claude', 'stopped', 2 * 86_400 + 3 * 3600],
];
const idField = { claude: 'claude_session_id_own', codex: 'codex_session_id_own', gemini: 'gemini_session_id_own', agy: 'agy_conversation_id_own' };

try {
  const facts = path.join(home, '.cache', 'mam', 'status');
  mkdirSync(facts, { recursive: true });
  mkdirSync(env.TMUX_TMPDIR, { recursive: true, mode: 0o700 });
  tmux(agents, 'new-session', '-d', '-s', 'keep-alive', 'sleep 100000');
  const entries = [];
  for (const [name, agent, state, seconds, tool, command] of FLEET) {
    const workspace = path.join(home, 'lab', name);
    mkdirSync(workspace, { recursive: true });
    const status = state === 'stopped' ? 'stopped' : state === 'dead' ? 'terminated' : 'running';
    if (status === 'running') tmux(agents, 'new-session', '-d', '-s', name, '-c', workspace, 'sleep 100000');
    const times = status === 'stopped' ? `, stopped_at: ${ago(seconds)}` : status === 'terminated' ? `, terminated_at: ${ago(seconds)}` : '';
    entries.push(`  - {name: ${name}, agent: ${agent}, workspace: ${workspace}, status: ${status}, tmux_server: ${agents}, created_at: ${ago(3 * 86_400)}${times}, ${idField[agent]}: conv-${name}}\n`);
    if (['needs_approval', 'working', 'waiting'].includes(state)) {
      const tools = tool ? { t1: { status: 'needs_approval', tool_name: tool, input: null, command } } : {};
      const fact = { status: state, tools, agent_type: null, needs_approval_since: state === 'needs_approval' ? ago(seconds) : null, updated_at: ago(seconds) };
      writeFileSync(path.join(facts, `conv-${name}.agent.main.json`), JSON.stringify(fact));
      const session = { session_id: `conv-${name}`, agent, cwd: workspace, transcript_path: null, mam_session: name, pid: null, model: null, started_at: ago(seconds), updated_at: ago(seconds) };
      writeFileSync(path.join(facts, `conv-${name}.session.json`), JSON.stringify(session));
    }
  }
  const registry = path.join(home, '.hermes', 'agent-sessions.yaml');
  mkdirSync(path.dirname(registry), { recursive: true });
  writeFileSync(registry, `tmux_sessions:\n${entries.join('')}`);

  tmux(term, 'new-session', '-d', '-x', '132', '-y', '20', '-s', 'dash', `${process.execPath} ${path.join(repo, 'dist/cli/main.js')} ui --registry ${registry}; sleep 100000`);
  const screen = () => tmux(term, 'capture-pane', '-p', '-t', '=dash:');
  for (let waited = 0; !/10 sessions:/.test(screen()); waited += 100) {
    if (waited > 60_000) throw new Error(`mam ui did not show the fleet:\n${screen()}`);
    await sleep(100);
  }
  tmux(agents, 'kill-session', '-t', '=payments');
  for (let waited = 0; !/✗ gone +\d+s +payments/.test(screen()); waited += 100) {
    if (waited > 30_000) throw new Error(`payments never showed gone:\n${screen()}`);
    await sleep(100);
  }
  await sleep(2_500);
  const ansi = tmux(term, 'capture-pane', '-e', '-p', '-t', '=dash:');
  const page = path.join(root, 'ui.html');
  writeFileSync(page, html(ansi));
  mkdirSync(path.dirname(output), { recursive: true });
  const shot = spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${output}`, '--window-size=1190,395', `file://${page}`], { encoding: 'utf8' });
  if (shot.status !== 0) throw new Error(`chromium failed (${shot.status}): ${shot.stderr}`);
  process.stdout.write(`wrote ${path.relative(repo, output)}\n`);

  // The status line is drawn by a client, not kept in a pane: a real client of the dashboard's server, attached
  // inside a pane of a third server, draws it where capture-pane can read it. The segment is the one the README's
  // .tmux.conf line reads (written here by `mam status --tmux`, as the watcher would keep it).
  const segmentFile = path.join(facts, 'tmux-status');
  writeFileSync(segmentFile, execFileSync(process.execPath, [path.join(repo, 'dist/cli/main.js'), 'status', '--tmux'], { env, encoding: 'utf8' }).trim());
  tmux(term, 'set', '-g', 'status-right', `#(cat ${segmentFile}) 09:41`);
  tmux(term, 'set', '-g', 'status-interval', '1');
  tmux(outer, 'new-session', '-d', '-x', '132', '-y', '21', '-s', 'client', `env -u TMUX tmux -L ${term} attach -t =dash`);
  tmux(outer, 'set', '-g', 'status', 'off');
  const lastLine = (ansi) => ansi.replace(/\n+$/, '').split('\n').at(-1) ?? '';
  const outerScreen = () => tmux(outer, 'capture-pane', '-e', '-p', '-t', '=client:');
  for (let waited = 0; !/⚠/.test(lastLine(outerScreen())); waited += 100) {
    if (waited > 30_000) throw new Error(`the status line never showed the segment:\n${outerScreen()}`);
    await sleep(100);
  }
  const statusPage = path.join(root, 'status.html');
  writeFileSync(statusPage, html(lastLine(outerScreen())));
  const statusShot = spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${statusOutput}`, '--window-size=1190,48', `file://${statusPage}`], { encoding: 'utf8' });
  if (statusShot.status !== 0) throw new Error(`chromium failed (${statusShot.status}): ${statusShot.stderr}`);
  process.stdout.write(`wrote ${path.relative(repo, statusOutput)}\n`);
} finally {
  cleanup();
}

/** An xterm 256-colour index as CSS: the 16 named colours, the 6×6×6 cube, then 24 greys. */
function xterm256(n, palette, bright) {
  if (n < 8) return palette[n];
  if (n < 16) return bright[n - 8];
  if (n >= 232) {
    const grey = 8 + 10 * (n - 232);
    return `rgb(${grey},${grey},${grey})`;
  }
  const level = (v) => (v === 0 ? 0 : 55 + 40 * v);
  const c = n - 16;
  return `rgb(${level(Math.floor(c / 36))},${level(Math.floor(c / 6) % 6)},${level(c % 6)})`;
}

/** The capture as an HTML page: SGR colours, bold, dim and inverse, on a dark terminal background. */
function html(text) {
  const palette = ['#2e3436', '#ef5350', '#8ae234', '#fce94f', '#729fcf', '#ce79c8', '#34e2e2', '#d3d7cf'];
  const bright = ['#7f8c8d', '#ff7070', '#a5f05a', '#fff27a', '#9ec3f0', '#e29ee0', '#7af5f5', '#ffffff'];
  const foreground = '#d3d7cf';
  const background = '#1e1f22';
  let state = { fg: undefined, bg: undefined, bold: false, dim: false, inverse: false };
  const escapeHtml = (value) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const span = (chunk) => {
    if (chunk === '') return '';
    let fg = state.fg ?? foreground;
    let bg = state.bg ?? background;
    if (state.inverse) [fg, bg] = [bg, fg];
    const style = [`color:${fg}`, bg === background ? '' : `background:${bg}`, state.bold ? 'font-weight:bold' : '', state.dim ? 'opacity:0.6' : ''].filter(Boolean).join(';');
    return `<span style="${style}">${escapeHtml(chunk)}</span>`;
  };
  let body = '';
  for (const part of text.replace(/\n+$/, '').split(/(\x1b\[[0-9;]*m)/)) {
    const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
    if (!sgr) {
      body += span(part);
      continue;
    }
    const codes = sgr[1] === '' ? [0] : sgr[1].split(';').map(Number);
    for (let index = 0; index < codes.length; index++) {
      const code = codes[index];
      if (code === 0) state = { fg: undefined, bg: undefined, bold: false, dim: false, inverse: false };
      else if (code === 1) state.bold = true;
      else if (code === 2) state.dim = true;
      else if (code === 22) state = { ...state, bold: false, dim: false };
      else if (code === 7) state.inverse = true;
      else if (code === 27) state.inverse = false;
      else if (code >= 30 && code <= 37) state.fg = palette[code - 30];
      else if (code === 39) state.fg = undefined;
      else if (code >= 90 && code <= 97) state.fg = bright[code - 90];
      else if (code >= 40 && code <= 47) state.bg = palette[code - 40];
      else if (code === 49) state.bg = undefined;
      else if ((code === 38 || code === 48) && codes[index + 1] === 5) {
        state[code === 38 ? 'fg' : 'bg'] = xterm256(codes[index + 2], palette, bright);
        index += 2;
      } else if (code === 38 || code === 48) index += 4;
    }
  }
  return `<!doctype html><meta charset="utf-8"><body style="margin:0;background:${background}"><pre style="margin:0;padding:14px 16px;font:14px/1.35 'DejaVu Sans Mono',monospace;color:${foreground}">${body}</pre></body>`;
}
