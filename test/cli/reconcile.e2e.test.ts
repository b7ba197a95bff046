import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPassOptions } from '../../src/reconcile/pass-options.js';
import { parseRegistry } from '../../src/registry/document.js';
import { writeClaudeTranscript } from '../helpers/claude-fixtures.js';
import { emitted, mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { holdLock, releaseLock } from '../helpers/lock-holder.js';
import { until } from '../helpers/until.js';

const LONG_AGO = '2026-01-01T00:00:00Z';
const STALE_ID = '87dc548e-1111-4222-8333-444455556666';
const NEW_ID = 'b3a7c2f0-aaaa-4bbb-8ccc-dddddddddddd';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create();
});
afterEach(async () => {
  await box.dispose();
});

function entryYaml(fields: Record<string, string | null>): string {
  return `  - ${Object.entries(fields)
    .map(([key, value]) => `${key}: ${value === null ? 'null' : value}`)
    .join('\n    ')}\n`;
}

/** One case of each drift class on one private tmux server. */
async function fourClassScenario(): Promise<{ server: string; ws: (name: string) => string }> {
  const server = box.serverName('abcd');
  const ws = (name: string): string => path.join(box.root, 'work', name);
  await box.startSession(server, 'fresh-creator-claude', ws('fresh'));
  await box.startSession(server, 'stale-creator-claude', ws('stale'));
  await box.startSession(server, 'newcomer-creator-claude', ws('newcomer'));
  await box.startSession(server, 'scratch', ws('scratch')); // not creator-named: never registered
  await writeClaudeTranscript(box.home, ws('fresh'), NEW_ID);
  const common = (name: string) => ({ name, agent: 'claude', workspace: ws(name.split('-')[0]!), status: 'running', tmux_server: server, created_at: LONG_AGO });
  await box.writeRegistry(
    `# my agents\ntmux_sessions:\n` +
      entryYaml({ ...common('gone-creator-claude'), pane: '{pid: 201132, cmd: claude}' }) +
      entryYaml({ ...common('fresh-creator-claude'), claude_session_id_own: null }) +
      entryYaml({ ...common('stale-creator-claude'), claude_session_id_own: STALE_ID }),
  );
  return { server, ws };
}

describe('mam reconcile on real tmux', () => {
  it('reports exactly one drift of each class A–D in a dry run, and writes nothing', async () => {
    const { server } = await fourClassScenario();
    const before = await readFile(box.registry);
    const result = await mam(['reconcile', '--once', '--emit-diff', '--dry-run', '--registry', box.registry, '--tmux-server', server], box.env());

    expect(result.code, result.stderr).toBe(0);
    const report = emitted(result);
    expect(report.drifts.map((drift) => [drift['class'], drift['session']])).toEqual([
      ['A', 'gone-creator-claude'],
      ['B', 'newcomer-creator-claude'],
      ['C', 'fresh-creator-claude'],
      ['D', 'stale-creator-claude'],
    ]);
    for (const drift of report.drifts) expect(drift['message']).toEqual(expect.stringContaining(String(drift['session'])));
    expect(report.drifts[2]).toMatchObject({ conversation_id: NEW_ID });
    expect(report.written).toBe(false);
    expect(await readFile(box.registry)).toEqual(before);
  });

  it('applies A–C, keeps the user\'s comment, and writes nothing on a second pass over the same reality', async () => {
    const { server, ws } = await fourClassScenario();
    const args = ['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server];

    const first = emitted(await mam(args, box.env()));
    expect(first.written).toBe(true);
    const text = await readFile(box.registry, 'utf8');
    expect(text.startsWith('# my agents\n')).toBe(true);
    const registry = parseRegistry(box.registry, text);
    const byName = new Map(registry.entries.map((entry) => [entry.name, entry]));
    expect(byName.get('gone-creator-claude')).toMatchObject({ status: 'terminated', termination_mode: 'auto-detected', terminated_at: expect.any(String) });
    expect(byName.get('fresh-creator-claude')).toMatchObject({ claude_session_id_own: NEW_ID });
    expect(byName.get('stale-creator-claude')).toMatchObject({ claude_session_id_own: STALE_ID, status: 'running' });
    expect(byName.get('newcomer-creator-claude')).toMatchObject({
      status: 'running',
      last_visible_status: 'auto-registered',
      tmux_server: server,
      workspace: ws('newcomer'),
      pane: { cmd: 'sleep', cwd: ws('newcomer') },
    });
    expect(byName.has('scratch')).toBe(false);

    const before = await stat(box.registry);
    const second = emitted(await mam(args, box.env()));
    expect(second.drifts.map((drift) => drift['class'])).toEqual(['D']);
    expect(second.written).toBe(false);
    const after = await stat(box.registry);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('does not flip an entry created moments ago, and does once the grace window has passed', async () => {
    const server = box.serverName('grace');
    await box.startSession(server, 'keepalive', box.root);
    // Created now, so the first pass has the whole 5 s grace window to start (node under load can take seconds).
    const createdAt = new Date().toISOString();
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'just-made-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: createdAt })}`);
    const args = ['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server];

    const first = await mam(args, box.env());
    // A pass that ended inside the 5 s window judged the entry inside it: it must leave it alone. On a machine so
    // loaded that node took longer than that to start and look, the flip is right, and only the second half is checked.
    if (Date.now() < Date.parse(createdAt) + 5_000) expect(emitted(first).drifts).toEqual([]);
    else console.warn('reconcile grace: the first pass ended after the window, so only the flip after it was checked');
    let flippedAt = 0;
    // Bounded by time, not by a count of passes: on a loaded machine each pass alone can take seconds.
    await until(async () => {
      if (!emitted(await mam(args, box.env())).drifts.some((drift) => drift['class'] === 'A')) return false;
      flippedAt = Date.now();
      return true;
    }, 'the entry to flip once the grace window has passed', 120_000, { intervalMs: 250 });
    expect(flippedAt).toBeGreaterThanOrEqual(Date.parse(createdAt) + 5_000);
  });

  it('runs as a loop, emitting one JSON object per pass, sees a session die, and stops on SIGTERM', async () => {
    const server = box.serverName('loop');
    await box.startSession(server, 'loop-creator-claude', box.root);
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'loop-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO, claude_session_id_own: null })}`);
    const child = spawn(process.execPath, [MAM, 'reconcile', '--emit-diff', '--interval', '0.2', '--registry', box.registry, '--tmux-server', server], { env: box.env() });
    const lines: string[] = [];
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => lines.length >= 2, 'two passes', 15_000);
      expect(lines.every((line) => (JSON.parse(line) as { drifts: unknown[] }).drifts.length === 0)).toBe(true);
      await box.killSession(server, 'loop-creator-claude');
      await until(() => lines.some((line) => line.includes('"class":"A"')), 'drift A from a pass', 15_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const entry = parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0];
    expect(entry).toMatchObject({ status: 'terminated', termination_mode: 'auto-detected' });
  });
});

describe('mam reconcile with bad input', () => {
  it('refuses malformed YAML with file and line, exit 1, and leaves the file as it was', async () => {
    const server = box.serverName('bad');
    const text = 'tmux_sessions:\n  - name: x-creator-claude\n    agent: [claude\n';
    await box.writeRegistry(text);
    const result = await mam(['reconcile', '--once', '--registry', box.registry, '--tmux-server', server], box.env());
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^mam: ${escape(box.registry)}:\\d+:\\d+: invalid YAML`));
    expect(await readFile(box.registry, 'utf8')).toBe(text);
  });

  it('reconciles the good entries, reports the bad one with its line, and leaves its text untouched', async () => {
    const server = box.serverName('mixed');
    const bad = '  - name: bad one\n    agent: claude\n    workspace: here\n    status: running\n';
    await box.writeRegistry(`tmux_sessions:\n${bad}${entryYaml({ name: 'good-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO })}`);
    const result = await mam(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server], box.env());
    expect(result.code).toBe(2);
    const report = emitted(result);
    expect(report.drifts.map((drift) => [drift['class'], drift['session']])).toEqual([['A', 'good-creator-claude']]);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'invalid-entry', session: 'bad one', line: 2 })]);
    expect(result.stderr).toMatch(/warning: .*:2: entry 0 \("bad one"\) skipped: name: session names/);
    const text = await readFile(box.registry, 'utf8');
    expect(text).toContain(bad);
    expect(text).toContain('status: terminated');
  });

  it('runs no tmux command but list-panes, whatever names the registry holds', async () => {
    const server = box.serverName('hostile');
    const calls = path.join(box.root, 'tmux-calls.log');
    const wrapper = path.join(box.root, 'tmux-wrapper.sh');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec tmux "$@"\n`);
    await chmod(wrapper, 0o755);
    const canary = path.join(box.home, 'canary');
    await writeFile(canary, 'still here');
    const hostile = ['a;rm -rf ~', 'x:y.z', 'new\\nline', '../../escape', 'n'.repeat(300), '$(touch pwned)'];
    await box.writeRegistry(
      `tmux_sessions:\n${hostile.map((name) => entryYaml({ name: JSON.stringify(name), agent: 'claude', workspace: box.root, status: 'running', tmux_server: server })).join('')}`,
    );
    const result = await mam(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server], box.env({ MAM_TMUX_BIN: wrapper }));
    expect(result.code).toBe(2);
    expect(emitted(result).problems.filter((problem) => problem['kind'] === 'invalid-entry')).toHaveLength(hostile.length);
    const invocations = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(invocations).toHaveLength(1);
    expect(invocations[0]).toMatch(new RegExp(`^-L ${server} list-panes -a -F #\\{session_name\\}`));
    expect(await readFile(canary, 'utf8')).toBe('still here');
    await expect(stat(path.join(box.root, 'pwned'))).rejects.toThrow();
  });

  it('refuses a hostile --tmux-server before running anything', async () => {
    const result = await mam(['reconcile', '--once', '--registry', box.registry, '--tmux-server', 'a;touch x'], box.env());
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mam: tmux server "a;touch x" is not a socket name/);
  });

  it('treats a tmux server that does not exist as every session on it gone', async () => {
    const missing = box.serverName('missing');
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'orphan-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: missing, created_at: LONG_AGO })}`);
    const report = emitted(await mam(['reconcile', '--once', '--emit-diff', '--dry-run', '--registry', box.registry], box.env()));
    expect(report.drifts).toEqual([expect.objectContaining({ class: 'A', session: 'orphan-creator-claude', message: expect.stringContaining(`tmux server ${missing} is not running`) })]);
  });

  it('concludes nothing when the tmux server dies mid-answer, then catches up on the next pass', async () => {
    const server = box.serverName('dying');
    await box.startSession(server, 'victim-creator-claude', box.root);
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'victim-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO })}`);
    // The answer starts, the server dies under it: half a line, then tmux's own complaint.
    const wrapper = path.join(box.root, 'dying-tmux.sh');
    await writeFile(wrapper, `#!/bin/sh\nout=$(tmux "$@")\ntmux -L ${server} kill-server\nprintf '%s' "$out" | head -c 12\necho 'server exited unexpectedly' >&2\nexit 1\n`);
    await chmod(wrapper, 0o755);
    const before = await readFile(box.registry);
    const args = ['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server];

    const dying = await mam(args, box.env({ MAM_TMUX_BIN: wrapper }));
    expect(dying.code).toBe(2);
    expect(emitted(dying).drifts).toEqual([]);
    expect(emitted(dying).problems).toEqual([expect.objectContaining({ kind: 'tmux-unavailable', message: expect.stringContaining('server exited unexpectedly') })]);
    expect(await readFile(box.registry)).toEqual(before);

    const next = emitted(await mam(args, box.env()));
    expect(next.drifts.map((drift) => drift['class'])).toEqual(['A']);
  });

  it('says how to fix a missing tmux, and concludes nothing about the sessions', async () => {
    const server = box.serverName('notmux');
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'kept-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO })}`);
    const result = await mam(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server], box.env({ MAM_TMUX_BIN: path.join(box.root, 'no-tmux-here') }));
    expect(result.code).toBe(2);
    expect(emitted(result).drifts).toEqual([]);
    expect(result.stderr).toContain('no-tmux-here not found: install tmux (apt-get install tmux) or set MAM_TMUX_BIN');
  });

  it('copes with a missing ~/.claude: no C, and D says the directory does not exist', async () => {
    const server = box.serverName('noclaude');
    await box.startSession(server, 'a-creator-claude', box.root);
    await box.startSession(server, 'b-creator-claude', box.root);
    await box.writeRegistry(
      'tmux_sessions:\n' +
        entryYaml({ name: 'a-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO, claude_session_id_own: null }) +
        entryYaml({ name: 'b-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: server, created_at: LONG_AGO, claude_session_id_own: STALE_ID }),
    );
    const result = await mam(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server], box.env());
    expect(result.code, result.stderr).toBe(0);
    expect(emitted(result).drifts).toEqual([
      expect.objectContaining({ class: 'D', session: 'b-creator-claude', message: expect.stringContaining(`${path.join(box.home, '.claude', 'projects')} does not exist`) }),
    ]);
  });

  it('reads damaged transcripts without failing: empty files are no conversation, torn and non-UTF-8 lines are skipped', async () => {
    const server = box.serverName('torn');
    const workspaces = { empty: path.join(box.root, 'w-empty'), torn: path.join(box.root, 'w-torn') };
    await box.startSession(server, 'empty-creator-claude', workspaces.empty);
    await box.startSession(server, 'torn-creator-claude', workspaces.torn);
    const emptyFile = await writeClaudeTranscript(box.home, workspaces.empty, NEW_ID);
    await writeFile(emptyFile, '');
    const tornId = 'c0ffee00-1111-4222-8333-444455556666';
    const tornFile = await writeClaudeTranscript(box.home, workspaces.torn, tornId, { extra: '{"type":"assistant","cwd":"/elsewhere","mess' });
    await writeFile(tornFile, Buffer.concat([Buffer.from('{"type":"summary","summary":"\xff\xfe"}\n', 'latin1'), Buffer.from([0xc3, 0x28, 0x0a]), await readFile(tornFile)]));
    await box.writeRegistry(
      'tmux_sessions:\n' +
        entryYaml({ name: 'empty-creator-claude', agent: 'claude', workspace: workspaces.empty, status: 'running', tmux_server: server, created_at: LONG_AGO, claude_session_id_own: null }) +
        entryYaml({ name: 'torn-creator-claude', agent: 'claude', workspace: workspaces.torn, status: 'running', tmux_server: server, created_at: LONG_AGO, claude_session_id_own: null }),
    );
    const result = await mam(['reconcile', '--once', '--emit-diff', '--dry-run', '--registry', box.registry, '--tmux-server', server], box.env());
    expect(result.code, result.stderr).toBe(0);
    expect(emitted(result).drifts).toEqual([expect.objectContaining({ class: 'C', session: 'torn-creator-claude', conversation_id: tornId })]);
  });

  it('explains a registry path that is a directory, and exits 1', async () => {
    await mkdir(box.registry, { recursive: true });
    const result = await mam(['reconcile', '--once', '--registry', box.registry, '--tmux-server', box.serverName('dir')], box.env());
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`mam: ${box.registry}: is a directory; --registry (or MAM_REGISTRY) must name the YAML file itself\n`);
  });

  it('reads a missing registry as empty and creates it only when there is something to record', async () => {
    const server = box.serverName('new');
    const args = ['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server];
    expect(emitted(await mam(args, box.env())).drifts).toEqual([]);
    await expect(stat(box.registry)).rejects.toThrow();
    await box.startSession(server, 'first-creator-codex', box.root);
    expect(emitted(await mam(args, box.env())).drifts.map((drift) => drift['class'])).toEqual(['B']);
    expect(parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]).toMatchObject({ name: 'first-creator-codex', agent: 'codex', codex_session_id_own: null });
  });

  it('gives --help for the command and a usage error for an unknown flag', async () => {
    const help = await mam(['reconcile', '--help'], box.env());
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--emit-diff');
    const wrong = await mam(['reconcile', '--nope'], box.env());
    expect(wrong.code).toBe(64);
    expect(wrong.stderr).toMatch(/^mam: reconcile: Unknown option '--nope'.*see `mam reconcile --help`/);
  });
});

describe('mam reconcile and the registry lock', () => {
  const holders: ChildProcess[] = [];
  afterEach(() => {
    for (const holder of holders.splice(0)) releaseLock(holder);
  });

  /** A real `flock <registry>.lock` holder, as a bash script would take it, until the test ends. */
  async function holdRegistryLock(): Promise<string> {
    const lockFile = `${box.registry}.lock`;
    holders.push(await holdLock(lockFile, box.env()));
    return lockFile;
  }

  it('gives up after MAM_LOCK_TIMEOUT, not the default 30 s, naming the lock file and writing nothing', async () => {
    const missing = box.serverName('locked');
    // A running entry on a server that does not exist: drift A, so the pass needs the lock to write.
    await box.writeRegistry(`tmux_sessions:\n${entryYaml({ name: 'locked-creator-claude', agent: 'claude', workspace: box.root, status: 'running', tmux_server: missing, created_at: LONG_AGO })}`);
    const before = await readFile(box.registry);
    const lockFile = await holdRegistryLock();

    const started = Date.now();
    const result = await mam(['reconcile', '--once', '--registry', box.registry, '--tmux-server', missing], box.env({ MAM_LOCK_TIMEOUT: '2' }));
    const elapsed = Date.now() - started;
    expect(result.code, result.stderr).toBe(75);
    expect(result.stderr).toContain(`${lockFile}: still locked by another writer after 2 s`);
    expect(await readFile(box.registry)).toEqual(before);
    // The old behaviour waited 30 s whatever MAM_LOCK_TIMEOUT said; 20 s leaves room for a slow machine.
    expect(elapsed).toBeLessThan(20_000);
  });

  it('the monitor\'s passes get the same bound (they are built by buildPassOptions)', () => {
    const options = buildPassOptions({ registryFile: box.registry, tmuxServers: [box.serverName('none')], dryRun: false, env: box.env({ MAM_LOCK_TIMEOUT: '2' }) });
    expect(options.lock).toEqual({ timeoutMs: 2000 });
  });
});

describe('mam reconcile and the registry file itself', () => {
  it('writes a symlinked registry through to the file it points to and keeps the link', async () => {
    const server = box.serverName('link');
    const target = path.join(box.root, 'dotfiles', 'agent-sessions.yaml');
    await box.writeRegistry('# mine\ntmux_sessions:\n', target);
    await mkdir(path.dirname(box.registry), { recursive: true });
    await symlink(target, box.registry);
    await box.startSession(server, 'linked-creator-codex', box.root);

    const result = await mam(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server], box.env());
    expect(result.code, result.stderr).toBe(0);
    expect(emitted(result).drifts.map((drift) => [drift['class'], drift['session']])).toEqual([['B', 'linked-creator-codex']]);
    expect((await lstat(box.registry)).isSymbolicLink()).toBe(true);
    expect(await readlink(box.registry)).toBe(target);
    expect(parseRegistry(target, await readFile(target, 'utf8')).entries.map((entry) => entry.name)).toEqual(['linked-creator-codex']);
  });

  it('a pass that changes nothing removes a dead writer\'s temp file and leaves a live one\'s (and a dry run touches neither)', async () => {
    const server = box.serverName('sweep');
    await box.writeRegistry('tmux_sessions:\n');
    const before = await readFile(box.registry);
    const prefix = `.${path.basename(box.registry)}.tmp-`;
    const finished = spawnSync('true').pid!; // reaped: its pid is gone, as a writer killed mid-write
    const dead = `${prefix}${finished}-0123456789ab`;
    const live = `${prefix}${process.pid}-ba9876543210`;
    for (const name of [dead, live]) await writeFile(path.join(path.dirname(box.registry), name), before);
    const temps = async (): Promise<string[]> => (await readdir(path.dirname(box.registry))).filter((name) => name.startsWith(prefix)).sort();
    const args = ['--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server];

    const dry = await mam(['reconcile', ...args, '--dry-run'], box.env());
    expect(dry.code, dry.stderr).toBe(0);
    expect(await temps()).toEqual([dead, live].sort());

    const result = await mam(['reconcile', ...args], box.env());
    expect(result.code, result.stderr).toBe(0);
    expect(emitted(result).written).toBe(false);
    expect(await temps()).toEqual([live]);
    expect(await readFile(box.registry)).toEqual(before);
  });
});

describe('a session name that starts with "-", as reconcile registers it', () => {
  it('--session -x says to pass --session=-x, which works', async () => {
    const server = box.serverName('dash');
    const name = '-w-creator-codex';
    await box.startSession(server, name, path.join(box.root, 'w'));
    const registered = await mam(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server], box.env());
    expect(emitted(registered).drifts.map((drift) => [drift['class'], drift['session']])).toEqual([['B', name]]);

    const spaced = await mam(['stop', '--session', name, '--registry', box.registry], box.env());
    expect(spaced.code).toBe(64);
    expect(spaced.stderr).toBe(`mam: stop: --session ${name}: a value that starts with "-" looks like an option; pass it as --session=${name}\n`);
    const forgotten = await mam(['stop', '--session', '--registry', box.registry], box.env());
    expect(forgotten.code).toBe(64);
    expect(forgotten.stderr).toContain('--session is missing its value (--registry is an option)');

    // delete's own hint names the form that works.
    const deleting = await mam(['delete', `--session=${name}`, '--registry', box.registry], box.env());
    expect(deleting.code).toBe(1);
    expect(deleting.stderr).toContain(`stop it first (mam stop --session=${name})`);
    const stopped = await mam(['stop', `--session=${name}`, '--registry', box.registry], box.env());
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]).toMatchObject({ name, status: 'stopped' });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
