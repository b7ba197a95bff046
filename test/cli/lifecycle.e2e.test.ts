import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { alive, FakeAgents } from '../helpers/fake-agents.js';
import { emitted, mam, Sandbox, type MamResult } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * `mam create / resume / stop / delete / status` end to end: the built CLI, real tmux on private
 * sockets, and test/fixtures/fake-agent.mjs standing in for codex, gemini and agy, writing their
 * conversation artifacts in the real agents' on-disk formats under a temporary HOME and CODEX_HOME.
 */

const KINDS = ['codex', 'gemini', 'agy'] as const;
type Kind = (typeof KINDS)[number];
const ID_FIELD = { codex: 'codex_session_id_own', gemini: 'gemini_session_id_own', agy: 'agy_conversation_id_own' } as const;
const RESUME_ARGS = { codex: (id: string) => ['resume', id], gemini: (id: string) => ['--resume', id], agy: (id: string) => ['--conversation', id] };
/** What mam always starts each kind with (`launchArgs` in its module). */
const LAUNCH_ARGS: Record<(typeof KINDS)[number], string[]> = { codex: ['--no-daemon'], gemini: [], agy: [] };
/** How each fake agent records that it left by its own exit keys (/quit typed, or Ctrl-D = end of file). */
const EXIT_VIA = { codex: 'ctrl-c-twice', gemini: 'ctrl-c-twice', agy: 'eof' } as const;
/** Text on each fake agent's screen once it waits for input. */
const PROMPT_MARK = { codex: '›', gemini: 'Type your message', agy: '>' } as const;

interface AgentEvent {
  readonly kind: Kind;
  readonly pid: number;
  readonly event: 'start' | 'line' | 'artifact' | 'appended' | 'resumed' | 'not-found' | 'exit';
  readonly args?: string[];
  readonly cwd?: string;
  readonly resume?: string | null;
  readonly text?: string;
  readonly id?: string;
  readonly file?: string;
  readonly via?: string;
  readonly code?: number;
}

let agents: FakeAgents;
let box: Sandbox;
let server: string;
let bin: string;
let codexHome: string;
const holders: ChildProcess[] = [];

beforeEach(async () => {
  agents = await FakeAgents.create('mam-lifecycle-', 'life', KINDS);
  ({ box, server, bin } = agents);
  codexHome = path.join(box.root, 'codex-home');
});

afterEach(async () => {
  for (const holder of holders.splice(0)) {
    // The lock holders were started in their own process group (flock and its `sleep`): end that group.
    if (holder.pid !== undefined && holder.exitCode === null) {
      try {
        process.kill(-holder.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  // kill-server hangs each pane up; the agents' exits reach the log before the sandbox is removed.
  await agents.dispose(5_000);
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return box.env({
    PATH: agents.path,
    FAKE_AGENT_LOG: agents.log,
    CODEX_HOME: codexHome,
    MAM_TMUX_SERVER: server,
    MAM_REGISTRY: box.registry,
    ...extra,
  });
}

function mamRun(args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<MamResult> {
  return mam(args, env(extra));
}

const workspace = (name: string): Promise<string> => agents.workspace(name);
const registryText = (): string => agents.registryText();
const entries = (): readonly RegistryEntry[] => agents.entries();
const entryOf = (name: string): RegistryEntry => agents.entryOf(name);
const events = (): AgentEvent[] => agents.events<AgentEvent>();

const eventsOf = (pid: number): AgentEvent[] => events().filter((event) => event.pid === pid);

async function sessions(): Promise<string[]> {
  try {
    return (await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).split('\n').filter(Boolean);
  } catch {
    return []; // no server: no sessions
  }
}

const screen = (name: string): Promise<string> => agents.screen(name);

async function typeLine(name: string, text: string): Promise<void> {
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, '-l', text);
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, 'Enter');
}

/** Running and not a zombie: the same test mam's stop ladder applies. */
/** Every file under `root`, with a hash of its content. */
function fileHashes(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(full, createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  if (existsSync(root)) walk(root);
  return files;
}

/** The agent's whole world of artifacts: HOME (gemini, agy) and CODEX_HOME. */
const artifactFiles = (): Map<string, string> => new Map([...fileHashes(box.home), ...fileHashes(codexHome)]);

function conversationFiles(kind: Kind): string[] {
  const files = [...artifactFiles().keys()];
  if (kind === 'codex') return files.filter((file) => /\/rollout-[^/]+\.jsonl$/.test(file));
  if (kind === 'gemini') return files.filter((file) => /\/chats\/session-[^/]+\.jsonl$/.test(file));
  return files.filter((file) => /\/conversations\/[^/]+\.db$/.test(file));
}

interface Created {
  readonly name: string;
  readonly ws: string;
  readonly pid: number;
}

/** `mam create` of a fake agent, checked, and waited for until its prompt is on screen. */
async function create(kind: Kind, wsName = `ws-${kind}`, extraArgs: string[] = []): Promise<Created> {
  const ws = await workspace(wsName);
  const result = await mamRun(['create', '--agent', kind, '--workspace', ws, '--json', ...extraArgs]);
  expect(result.code, result.stderr).toBe(0);
  const { entry } = JSON.parse(result.stdout) as { entry: RegistryEntry };
  await until(async () => (await screen(entry.name)).includes(PROMPT_MARK[kind]), `${kind}'s prompt`, 60_000);
  return { name: entry.name, ws, pid: entry.pane!.pid! };
}

/** Types a prompt and waits for the agent to have written it into its conversation artifact. */
async function prompt(name: string, pid: number, text: string): Promise<{ id: string; file: string }> {
  await typeLine(name, text);
  const appended = await untilValue(() => eventsOf(pid).find((event) => event.event === 'appended' && event.text === text), `${JSON.stringify(text)} in the artifact`, 60_000);
  return { id: appended.id!, file: appended.file! };
}

/** `mam reconcile --once` and its class-C drift for `name`. */
async function reconcileRecords(name: string): Promise<Record<string, unknown>> {
  const result = await mamRun(['reconcile', '--once', '--emit-diff']);
  const report = emitted(result);
  const drift = report.drifts.find((candidate) => candidate['class'] === 'C' && candidate['session'] === name);
  if (!drift) throw new Error(`no class C drift for ${name}: ${result.stdout}\n${result.stderr}`);
  return drift;
}

/** create → prompt → reconcile records the id → stop: a stopped session with a recorded conversation. */
async function stoppedConversation(kind: Kind, wsName?: string): Promise<Created & { id: string; file: string }> {
  const created = await create(kind, wsName);
  const conversation = await prompt(created.name, created.pid, `hello from the ${kind} test`);
  expect(await reconcileRecords(created.name)).toMatchObject({ conversation_id: conversation.id });
  const stop = await mamRun(['stop', '--session', created.name]);
  expect(stop.code, stop.stderr).toBe(0);
  expect(entryOf(created.name)).toMatchObject({ status: 'stopped', [ID_FIELD[kind]]: conversation.id });
  return { ...created, ...conversation };
}

/** Runs the fake agent directly (no tmux, no mam) in `cwd` for one prompt: another conversation on disk. */
async function conversationOutsideMam(kind: Kind, cwd: string, text = 'an unrelated conversation'): Promise<{ id: string; file: string }> {
  const child = spawn(path.join(bin, kind), [], { cwd, env: env(), stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end(`${text}\n`);
  await exited;
  const made = events().find((event) => event.pid === child.pid && event.event === 'artifact');
  if (!made) throw new Error(`the fake ${kind} made no artifact`);
  return { id: made.id!, file: made.file! };
}

/**
 * Holds the registry's lock from a separate `flock`, as another writer would, until the test ends (afterEach ends
 * its process group). A holder that let go after a fixed time raced the command under test on a loaded machine:
 * a `create` that took longer than that to reach its registry write found the lock free and succeeded.
 */
async function holdRegistryLock(): Promise<string> {
  const lockFile = `${box.registry}.lock`;
  await mkdir(path.dirname(lockFile), { recursive: true });
  const holder = spawn('flock', [lockFile, '-c', 'sleep 100000'], { detached: true, stdio: 'ignore', env: env() });
  holders.push(holder);
  await until(() => {
    try {
      execFileSync('flock', ['--nonblock', lockFile, 'true'], { stdio: 'ignore' });
      return false;
    } catch {
      return true; // exit 1: someone else holds it
    }
  }, 'the lock holder to take the lock', 60_000);
  return lockFile;
}

describe.each(KINDS)('mam lifecycle with a fake %s', (kind) => {
  it('create → prompt → reconcile records the id → stop (graceful) → resume the same conversation → stop → delete', async () => {
    // create
    const created = await create(kind);
    expect(created.name).toBe(`ws-${kind}-creator-${kind}`);
    expect(await sessions()).toEqual([created.name]);
    expect(entryOf(created.name)).toMatchObject({
      agent: kind,
      status: 'running',
      workspace: created.ws,
      tmux_server: server,
      start_argv: [kind, ...LAUNCH_ARGS[kind]],
      [ID_FIELD[kind]]: null,
      pane: { pid: created.pid, cwd: created.ws },
    });
    const [start] = eventsOf(created.pid);
    expect(start).toMatchObject({ event: 'start', args: LAUNCH_ARGS[kind], cwd: created.ws, resume: null });

    // a prompt typed: the conversation artifact appears; reconcile records its id (class C)
    const first = await prompt(created.name, created.pid, `first prompt for ${kind}`);
    expect(conversationFiles(kind)).toEqual([first.file]);
    const drift = await reconcileRecords(created.name);
    expect(drift).toMatchObject({ field: ID_FIELD[kind], conversation_id: first.id });
    expect(entryOf(created.name)[ID_FIELD[kind]]).toBe(first.id);

    // stop: the agent leaves by its own exit keys; every field docs/lifecycle.md lists for stop is written
    const before = Math.floor(Date.now() / 1000);
    const stop = await mamRun(['stop', '--session', created.name, '--reason', 'handoff']);
    const after = Math.ceil(Date.now() / 1000);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe(`stopped ${created.name} (exit-keys)`);
    expect(alive(created.pid)).toBe(false);
    expect(eventsOf(created.pid).at(-1)).toMatchObject({ event: 'exit', code: 0, via: EXIT_VIA[kind] });
    expect(await sessions()).toEqual([]);
    const stopped = entryOf(created.name);
    expect(stopped).toMatchObject({
      status: 'stopped',
      stop_reason: 'handoff',
      termination_mode: 'graceful',
      [ID_FIELD[kind]]: first.id,
      resumable: true,
    });
    expect(stopped.stopped_at).toBeTruthy();
    expect(stopped.stopped_at_epoch).toBeGreaterThanOrEqual(before);
    expect(stopped.stopped_at_epoch).toBeLessThanOrEqual(after);
    expect(stopped.last_visible_status).toContain(`echo: first prompt for ${kind}`);
    expect(existsSync(first.file)).toBe(true);

    // stop again: idempotent, nothing written
    const registryBefore = registryText();
    const again = await mamRun(['stop', '--session', created.name]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^already stopped \(.*reason: handoff\)/);
    expect(registryText()).toBe(registryBefore);

    // resume: the agent gets the resume argv for the same id and continues the same artifact
    const resume = await mamRun(['resume', '--session', created.name, '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    expect(JSON.parse(resume.stdout)).toMatchObject({ tier: 'recorded-id', conversationId: first.id, argv: [kind, ...LAUNCH_ARGS[kind], ...RESUME_ARGS[kind](first.id)] });
    const resumed = entryOf(created.name);
    expect(resumed).toMatchObject({ status: 'running', [ID_FIELD[kind]]: first.id });
    expect(resumed.resumed_at).toBeTruthy();
    const resumedPid = resumed.pane!.pid!;
    expect(resumedPid).not.toBe(created.pid);
    expect(eventsOf(resumedPid).slice(0, 2)).toMatchObject([
      { event: 'start', args: [...LAUNCH_ARGS[kind], ...RESUME_ARGS[kind](first.id)], cwd: created.ws, resume: first.id },
      { event: 'resumed', id: first.id, file: first.file },
    ]);
    await until(async () => (await screen(created.name)).includes(PROMPT_MARK[kind]), 'the resumed prompt', 60_000);
    const second = await prompt(created.name, resumedPid, `second prompt for ${kind}`);
    expect(second).toEqual(first);
    expect(readFileSync(first.file, 'utf8')).toContain(`first prompt for ${kind}`);
    expect(readFileSync(first.file, 'utf8')).toContain(`second prompt for ${kind}`);
    expect(conversationFiles(kind)).toEqual([first.file]);
    expect(eventsOf(resumedPid).some((event) => event.event === 'artifact')).toBe(false);

    // stop again
    const stopAgain = await mamRun(['stop', '--session', created.name]);
    expect(stopAgain.code, stopAgain.stderr).toBe(0);
    expect(alive(resumedPid)).toBe(false);
    expect(eventsOf(resumedPid).at(-1)).toMatchObject({ event: 'exit', code: 0, via: EXIT_VIA[kind] });
    expect(entryOf(created.name)).toMatchObject({ status: 'stopped', termination_mode: 'graceful', [ID_FIELD[kind]]: first.id, resumable: true });

    // delete: gone from the registry, one history line
    const removed = await mamRun(['delete', '--session', created.name]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout.trim()).toBe(`deleted ${created.name}`);
    expect(entries().map((entry) => entry.name)).not.toContain(created.name);
    const history = readFileSync(path.join(path.dirname(box.registry), 'agent-sessions.history.jsonl'), 'utf8').trim().split('\n');
    expect(history).toHaveLength(1);
    expect(JSON.parse(history[0]!)).toMatchObject({ action: 'delete', entry: { name: created.name, status: 'stopped', [ID_FIELD[kind]]: first.id } });
    // The conversation itself is kept: delete forgets the session, not the agent's files.
    expect(existsSync(first.file)).toBe(true);
  });

  it('create --submit-job delegates a job: the agent receives its instruction header and the task', async () => {
    const ws = await workspace(`job-${kind}`);
    const job = `please fix the flaky ${kind} test`;
    const jobsDir = path.join(ws, '.mam', 'jobs');
    const result = await mamRun(['create', '--agent', kind, '--workspace', ws, '--submit-job', job, '--registry-dir', jobsDir, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const { entry, submitted } = JSON.parse(result.stdout) as { entry: RegistryEntry; submitted: { ok: boolean } };
    expect(submitted).toMatchObject({ ok: true });
    expect(entry.delegate_job_id).toMatch(/^j_[0-9a-f]{24}$/);
    expect(entry.delegate_job_registry).toBe(jobsDir);
    const pid = entry.pane!.pid!;
    const lines = eventsOf(pid).filter((event) => event.event === 'line').map((event) => event.text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Your job_id is "${entry.delegate_job_id}"`));
    expect(lines[0]).toContain(`job event --job ${entry.delegate_job_id} --registry-dir ${jobsDir} --event started`);
    expect(lines[0]!.endsWith(`Task: ${job}`)).toBe(true);
    expect(eventsOf(pid).find((event) => event.event === 'artifact')).toBeTruthy();
  });

  it('resume when the agent says the conversation is not found starts fresh and says so', async () => {
    const stopped = await stoppedConversation(kind);
    // The artifact is still there (so mam picks tier 1), but the agent cannot load it.
    await mkdir(path.join(box.home, '.fake-agent'), { recursive: true });
    await writeFile(path.join(box.home, '.fake-agent', 'forget'), `${stopped.id}\n`);

    const result = await mamRun(['resume', '--session', stopped.name, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const resumed = JSON.parse(result.stdout) as { tier: string; conversationId: string | null; argv: string[]; note: string };
    expect(resumed).toMatchObject({ tier: 'fresh', conversationId: null, argv: [kind, ...LAUNCH_ARGS[kind]] });
    expect(resumed.note).toBe(`${kind} could not resume conversation ${stopped.id} (it says the conversation is gone); started fresh`);
    const starts = events().filter((event) => event.event === 'start').slice(1);
    expect(starts.map((event) => event.resume)).toEqual([stopped.id, null]);
    expect(events().filter((event) => event.event === 'not-found').map((event) => event.id)).toEqual([stopped.id]);
    const entry = entryOf(stopped.name);
    expect(entry).toMatchObject({ status: 'running', [ID_FIELD[kind]]: null, pane: { pid: starts[1]!.pid } });
    expect(alive(starts[1]!.pid)).toBe(true);
    expect(await sessions()).toEqual([stopped.name]);
  });

  it('stop --purge-conversation needs --yes; with it, deletes exactly that conversation and nothing else', async () => {
    const ws = await workspace(`purge-${kind}`);
    // Another conversation of the same agent in the same place (same project / same day / same store).
    const other = await conversationOutsideMam(kind, ws);
    const hour = Date.now() / 1000 - 3600;
    await utimes(other.file, hour, hour); // old: reconcile must not take it for the new session's
    const created = await create(kind, `purge-${kind}`);
    const mine = await prompt(created.name, created.pid, 'a conversation to purge');
    expect(mine.id).not.toBe(other.id);
    expect(path.dirname(mine.file)).toBe(path.dirname(other.file));
    expect(await reconcileRecords(created.name)).toMatchObject({ conversation_id: mine.id });

    // without --yes: refused, nothing done
    const registryBefore = registryText();
    const filesBefore = artifactFiles();
    const refused = await mamRun(['stop', '--session', created.name, '--purge-conversation']);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/--yes/);
    expect(registryText()).toBe(registryBefore);
    expect(artifactFiles()).toEqual(filesBefore);
    expect(alive(created.pid)).toBe(true);

    // with --yes
    const purge = await mamRun(['stop', '--session', created.name, '--purge-conversation', '--yes']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toMatch(new RegExp(`^terminated ${created.name} \\(exit-keys\\); purged `));
    expect(alive(created.pid)).toBe(false);
    const filesAfter = artifactFiles();
    const removed = [...filesBefore.keys()].filter((file) => !filesAfter.has(file));
    expect(removed).toEqual([mine.file]);
    for (const [file, hash] of filesAfter) expect(filesBefore.get(file), file).toBe(hash);
    expect(existsSync(other.file)).toBe(true);
    const entry = entryOf(created.name);
    expect(entry).toMatchObject({ status: 'terminated', termination_mode: 'purge', resumable: false, [ID_FIELD[kind]]: mine.id });
    expect(entry.terminated_at).toBeTruthy();
    expect(entry.terminated_at_epoch).toEqual(expect.any(Number));
    // and a second purge is a no-op
    const again = await mamRun(['stop', '--session', created.name, '--purge-conversation', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^already terminated \(/);
  });
});

describe('mam lifecycle: bad inputs and odd states', () => {
  it('create refuses a workspace that does not exist: nothing started, nothing registered', async () => {
    const missing = path.join(box.root, 'work', 'nope');
    const result = await mamRun(['create', '--agent', 'codex', '--workspace', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`workspace ${missing} does not exist`);
    expect(entries()).toEqual([]);
    expect(await sessions()).toEqual([]);
    expect(events()).toEqual([]);
  });

  it('create refuses an agent whose binary is not on PATH, with a clear error and nothing left behind', async () => {
    // A PATH with tmux and flock but none of the agents.
    const sysbin = path.join(box.root, 'sysbin');
    await mkdir(sysbin);
    for (const tool of ['tmux', 'flock']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      await symlink(real, path.join(sysbin, tool));
    }
    const ws = await workspace('nobin');
    for (const kind of KINDS) {
      const result = await mamRun(['create', '--agent', kind, '--workspace', ws], { PATH: sysbin });
      expect(result.code, kind).toBe(1);
      expect(result.stderr).toContain(`${kind} not found on PATH`);
      expect(result.stderr).toContain('nothing was created');
    }
    expect(entries()).toEqual([]);
    expect(await sessions()).toEqual([]);
    expect(events()).toEqual([]);
  });

  it('create refuses a name already in the registry, and one tmux already has, leaving both sessions alone', async () => {
    const first = await create('codex', 'dup');
    const again = await mamRun(['create', '--agent', 'codex', '--workspace', first.ws]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`session ${first.name} is already in the registry`);
    expect(entries().map((entry) => entry.name)).toEqual([first.name]);
    expect(entryOf(first.name).pane?.pid).toBe(first.pid);
    expect(alive(first.pid)).toBe(true);
    expect(events().filter((event) => event.event === 'start')).toHaveLength(1);

    // A tmux session by that name that mam never registered.
    const strayPid = await box.startSession(server, 'taken', first.ws);
    const taken = await mamRun(['create', '--agent', 'codex', '--workspace', first.ws, '--name', 'taken']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`a tmux session named taken already exists on tmux server ${server}`);
    expect(entries().map((entry) => entry.name)).toEqual([first.name]);
    expect(alive(strayPid)).toBe(true);
    expect((await box.tmux(server, 'display-message', '-p', '-t', '=taken:', '#{pane_pid}')).trim()).toBe(String(strayPid));
    expect((await sessions()).sort()).toEqual([first.name, 'taken'].sort());
  });

  it.each([
    ['a shell command', 'a;rm -rf ~'],
    ['a tmux target separator', 'x:y'],
    ['300 characters', 'n'.repeat(300)],
  ])('create refuses a hostile --name (%s) before anything runs', async (_what, name) => {
    const canary = path.join(box.home, 'canary');
    await writeFile(canary, 'still here');
    const ws = await workspace('hostile');
    const result = await mamRun(['create', '--agent', 'codex', '--workspace', ws, '--name', name]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(`session name ${JSON.stringify(name)} is not`);
    expect(existsSync(box.registry)).toBe(false);
    expect(await sessions()).toEqual([]);
    expect(events()).toEqual([]);
    expect(readFileSync(canary, 'utf8')).toBe('still here');
  });

  it('stop of a session killed behind mam\'s back updates the registry and says the termination was auto-detected', async () => {
    const created = await create('gemini', 'killed');
    await box.killSession(server, created.name);
    await until(() => !alive(created.pid), 'the agent to die with its tmux session', 60_000);

    const stop = await mamRun(['stop', '--session', created.name]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe(`stopped ${created.name} (already-gone)`);
    expect(stop.stderr).toContain('already gone');
    const entry = entryOf(created.name);
    expect(entry).toMatchObject({ status: 'stopped', termination_mode: 'auto-detected', resumable: true, stop_reason: 'user-requested' });
    expect(entry.stopped_at).toBeTruthy();
    expect(entry.stopped_at_epoch).toEqual(expect.any(Number));
  });

  it('stop refuses an unregistered tmux session unless --force-no-yaml', async () => {
    const ws = await workspace('stray');
    const pid = await box.startSession(server, 'stray', ws);
    const refused = await mamRun(['stop', '--session', 'stray', '--tmux-server', server]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stray is not in the registry .*--force-no-yaml/);
    expect(alive(pid)).toBe(true);
    expect(await sessions()).toEqual(['stray']);

    const forced = await mamRun(['stop', '--session', 'stray', '--tmux-server', server, '--force-no-yaml']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout.trim()).toMatch(/^stopped stray \((exit-keys|kill-session|sigkill)\); not registered, nothing recorded$/);
    expect(alive(pid)).toBe(false);
    expect(await sessions()).toEqual([]);
    expect(existsSync(box.registry)).toBe(false);
  });

  it('delete refuses a running session', async () => {
    const created = await create('agy', 'busy');
    const before = registryText();
    const result = await mamRun(['delete', '--session', created.name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${created.name} is running; stop it first`);
    expect(registryText()).toBe(before);
    expect(existsSync(path.join(path.dirname(box.registry), 'agent-sessions.history.jsonl'))).toBe(false);
    expect(alive(created.pid)).toBe(true);
  });

  it('status shows live, gone-while-running and stopped sessions, as a table and as JSON', async () => {
    const live = await create('codex', 'live');
    const vanished = await create('gemini', 'vanished');
    const parked = await create('agy', 'parked');
    await box.killSession(server, vanished.name);
    const stop = await mamRun(['stop', '--session', parked.name]);
    expect(stop.code, stop.stderr).toBe(0);

    const json = await mamRun(['status', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { sessions: Array<Record<string, unknown>> };
    expect(report.sessions).toEqual([
      expect.objectContaining({ name: live.name, agent: 'codex', status: 'running', tmux: 'alive', tmux_server: server }),
      expect.objectContaining({ name: vanished.name, agent: 'gemini', status: 'running', tmux: 'gone' }),
      expect.objectContaining({ name: parked.name, agent: 'agy', status: 'stopped', tmux: 'gone' }),
    ]);

    const table = await mamRun(['status']);
    expect(table.code, table.stderr).toBe(0);
    const [where, header, ...rows] = table.stdout.trim().split('\n');
    expect(where).toBe(`registry: ${box.registry}`);
    expect(header!.split(/\s+/)).toEqual(['NAME', 'AGENT', 'STATUS', 'TMUX', 'ACTIVITY', 'CONVERSATION', 'AGE', 'WORKSPACE']);
    const cells = (name: string): string[] => rows.find((row) => row.startsWith(`${name} `))!.split(/\s+/);
    expect(cells(live.name).slice(0, 4)).toEqual([live.name, 'codex', 'running', 'alive']);
    expect(cells(vanished.name).slice(0, 4)).toEqual([vanished.name, 'gemini', 'running', 'GONE']);
    expect(cells(parked.name).slice(0, 4)).toEqual([parked.name, 'agy', 'stopped', 'gone']);
    expect(cells(live.name).at(-1)).toBe(live.ws);
  });

  it('create with the registry locked by another writer fails clearly, writes nothing and leaves no tmux session', async () => {
    const first = await create('codex', 'locked-a');
    const before = registryText();
    const lockFile = await holdRegistryLock();
    const ws = await workspace('locked-b');

    const result = await mamRun(['create', '--agent', 'codex', '--workspace', ws, '--name', 'locked-b'], { MAM_LOCK_TIMEOUT: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${lockFile}: still locked by another writer`);
    expect(registryText()).toBe(before);
    expect(await sessions()).toEqual([first.name]);
    // The agent that was started for it is gone again.
    for (const started of events().filter((event) => event.event === 'start' && event.cwd === ws)) {
      await until(() => !alive(started.pid), 'the unregistered agent to be gone', 60_000);
    }
  });

  it('stop with the registry locked by another writer fails clearly and changes nothing', async () => {
    const created = await create('codex', 'locked-stop');
    const before = registryText();
    const lockFile = await holdRegistryLock();

    const result = await mamRun(['stop', '--session', created.name], { MAM_LOCK_TIMEOUT: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${lockFile}: still locked by another writer`);
    expect(registryText()).toBe(before);
    // Nothing was stopped that the registry could not record.
    expect(alive(created.pid)).toBe(true);
    expect(await sessions()).toEqual([created.name]);
  });

  it('resume when the recorded artifact is gone and nothing else is on disk starts fresh and says so', async () => {
    const stopped = await stoppedConversation('agy');
    await rm(stopped.file);

    const result = await mamRun(['resume', '--session', stopped.name, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const resumed = JSON.parse(result.stdout) as { tier: string; conversationId: string | null; argv: string[]; note: string };
    expect(resumed).toMatchObject({ tier: 'fresh', conversationId: null, argv: ['agy'] });
    expect(resumed.note).toBe(`no conversation to resume (the artifact of ${stopped.id} is gone); started fresh`);
    const entry = entryOf(stopped.name);
    expect(entry).toMatchObject({ status: 'running', agy_conversation_id_own: null });
    expect(eventsOf(entry.pane!.pid!)[0]).toMatchObject({ event: 'start', args: [], resume: null });
  });

  it('resume when the recorded artifact is gone takes the newest conversation in the workspace (tier 2)', async () => {
    const stopped = await stoppedConversation('codex');
    await rm(stopped.file);
    // A conversation that happened in the workspace since, outside mam.
    const newer = await conversationOutsideMam('codex', stopped.ws, 'work done by hand meanwhile');

    const result = await mamRun(['resume', '--session', stopped.name, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const resumed = JSON.parse(result.stdout) as { tier: string; conversationId: string | null; argv: string[]; note: string };
    expect(resumed).toMatchObject({ tier: 'newest-artifact', conversationId: newer.id, argv: ['codex', '--no-daemon', 'resume', newer.id] });
    expect(resumed.note).toBe(`resumed conversation ${newer.id} (newest-artifact)`);
    const entry = entryOf(stopped.name);
    expect(entry).toMatchObject({ status: 'running', codex_session_id_own: newer.id });
    expect(eventsOf(entry.pane!.pid!).slice(0, 2)).toMatchObject([
      { event: 'start', args: ['--no-daemon', 'resume', newer.id] },
      { event: 'resumed', id: newer.id, file: newer.file },
    ]);
  });
});
