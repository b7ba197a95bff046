import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_GRACE_MS } from '../../src/reconcile/reconcile.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import type { RestoreReport } from '../../src/lifecycle/restore.js';
import { alive, FakeAgents, type FakeAgentEvent } from '../helpers/fake-agents.js';
import { emitted, mam, REPO, Sandbox, type MamResult } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * `mam restore` end to end: ten fake Gemini CLIs (test/fixtures/fake-agent.mjs, writing the real chat files) in
 * sessions on a private tmux server, that server killed by its pid, and the sessions brought back — in order, at most
 * --parallel starting at a time, --stagger apart, into their own conversations, with the environment recorded at
 * create even though restore runs with another HOME and PATH. A conversation whose files were deleted is reported and
 * not started; --dry-run and a refusal off a terminal change nothing.
 */

const PROMPT_MARK = 'Type your message';

let agents: FakeAgents;
let box: Sandbox;
let server: string;
let bin: string;
let agentLog: string;

beforeEach(async () => {
  agents = await FakeAgents.create('mam-restore-', 'restore', ['gemini']);
  ({ box, server, bin, log: agentLog } = agents);
});

afterEach(async () => {
  await agents.dispose(10_000);
});

/** What `mam create` ran with: the fake agents on PATH, the sandbox's HOME. */
function createEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return box.env({ PATH: agents.path, FAKE_AGENT_LOG: agentLog, MAM_TMUX_SERVER: server, MAM_REGISTRY: box.registry, ...extra });
}

/**
 * What `mam restore` runs with, as after a reboot from a bare shell: another HOME and a PATH without the agents. Only
 * the recorded start_env can bring them back into their conversations.
 */
function restoreEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Node's own folder (for tmux's `env` and nothing else on it): never node_modules/.bin, which may hold a real gemini.
  const bare = [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter);
  return box.env({ HOME: path.join(box.root, 'elsewhere'), PATH: bare, FAKE_AGENT_LOG: agentLog, MAM_REGISTRY: box.registry, ...extra });
}

const registryText = (): string => agents.registryText();
const entries = (): readonly RegistryEntry[] => agents.entries();
const entryOf = (name: string): RegistryEntry => agents.entryOf(name);
const events = (): FakeAgentEvent[] => agents.events();

async function serverUp(): Promise<boolean> {
  return box.tmux(server, 'list-sessions').then(() => true, () => false);
}

const screen = (name: string): Promise<string> => agents.screen(name);

interface Made {
  readonly name: string;
  readonly ws: string;
  readonly pid: number;
  readonly id: string;
  readonly file: string;
}

/** A fake Gemini session with a conversation on disk: created, spoken to once, its id recorded by a pass (class C). */
async function makeSession(index: number): Promise<Made> {
  const ws = path.join(box.root, 'work', `ws${index}`);
  await mkdir(ws, { recursive: true });
  const name = `r${index}`;
  const created = await mam(['create', '--agent', 'gemini', '--workspace', ws, '--name', name, '--json'], createEnv());
  expect(created.code, created.stderr).toBe(0);
  const pid = (JSON.parse(created.stdout) as { entry: RegistryEntry }).entry.pane!.pid!;
  await until(async () => (await screen(name)).includes(PROMPT_MARK), `${name}'s prompt`, 60_000);
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, '-l', `hello ${index}`);
  await box.tmux(server, 'send-keys', '-t', `=${name}:`, 'Enter');
  const artifact = await untilValue(() => events().find((event) => event.pid === pid && event.event === 'artifact'), `${name}'s conversation file`, 60_000);
  return { name, ws, pid, id: artifact.id!, file: artifact.file! };
}

/** The most agents that had started but not yet shown their prompt at any one moment, from their own log. */
function mostStartingAtOnce(pids: ReadonlySet<number>): number {
  const marks: [number, number][] = [];
  for (const event of events()) {
    if (!pids.has(event.pid)) continue;
    if (event.event === 'start') marks.push([Date.parse(event.at), 1]);
    if (event.event === 'ready') marks.push([Date.parse(event.at), -1]);
  }
  // At equal times a prompt shown frees its slot before the next start counts.
  marks.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of marks) {
    now += step;
    most = Math.max(most, now);
  }
  return most;
}

/**
 * A pass leaves alone what was created, resumed or stopped in the last DEFAULT_GRACE_MS (it may be a create still on
 * its way); on a quiet machine the last sessions are that young when their server is killed. Waits it out.
 */
async function pastGrace(): Promise<void> {
  const newest = Math.max(...entries().flatMap((entry) => [entry.created_at, entry.resumed_at, entry.stopped_at].map((at) => (at ? new Date(at).getTime() : 0))));
  await until(() => Date.now() - newest > DEFAULT_GRACE_MS + 1_000, 'the pass grace window of the newest session to pass', 60_000);
}

function report(result: MamResult): RestoreReport {
  expect(result.stdout.trim().split('\n'), result.stderr).toHaveLength(1);
  return JSON.parse(result.stdout) as RestoreReport;
}

describe('mam restore', () => {
  it('brings back ten sessions whose tmux server was killed: in order, throttled, in their conversations, missing ones reported', async () => {
    const made: Made[] = [];
    for (let index = 0; index < 10; index += 1) made.push(await makeSession(index));
    const recorded = await mam(['reconcile', '--once', '--emit-diff'], createEnv());
    expect(emitted(recorded).drifts.filter((drift) => drift['class'] === 'C')).toHaveLength(10);
    for (const session of made) {
      const entry = entryOf(session.name);
      expect(entry.gemini_session_id_own).toBe(session.id);
      // Where it ran, for telling a reboot from a crash later.
      expect(entry.boot_id).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
      expect(entry.tmux_server_pid).toBeGreaterThan(1);
      expect(entry.start_env?.['HOME']).toBe(box.home);
      expect(entry.start_env?.['PATH']?.startsWith(bin)).toBe(true);
    }

    // r4's conversation files are deleted: it must be reported, not started fresh.
    await rm(made[4]!.file);
    const serverPid = Number((await box.tmux(server, 'display-message', '-p', '#{pid}')).trim());
    expect(serverPid).toBe(entryOf('r0').tmux_server_pid);
    process.kill(serverPid, 'SIGKILL');
    await until(async () => !(await serverUp()), 'the killed tmux server to be gone', 30_000);
    await until(() => made.every((session) => !alive(session.pid)), 'the agents of the killed server to exit', 30_000);

    // --dry-run lists what would start and changes nothing.
    const before = registryText();
    const dry = await mam(['restore', '--dry-run', '--json'], restoreEnv());
    expect(dry.code, dry.stderr).toBe(0);
    const plan = report(dry).plan;
    expect(plan.map((item) => item.session)).toEqual(made.map((session) => session.name));
    expect(plan.every((item) => item.lost === 'crash' && item.status === 'running')).toBe(true);
    for (const [index, item] of plan.entries()) {
      if (index === 4) {
        expect(item).toMatchObject({ action: 'skip', conversation: { id: made[4]!.id, state: 'missing' } });
        continue;
      }
      expect(item).toMatchObject({ action: 'resume', conversation: { id: made[index]!.id, state: 'found' }, workspace: made[index]!.ws });
      expect(item.argv).toEqual(['gemini', '--resume', made[index]!.id]);
      expect(item.env['HOME']).toBe(box.home);
    }
    expect(registryText()).toBe(before);
    expect(await serverUp()).toBe(false);

    // Off a terminal without --yes: a clear refusal, nothing started.
    const refused = await mam(['restore'], restoreEnv());
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/9 sessions would start .*stdin is not a terminal.*--yes/);
    expect(registryText()).toBe(before);
    expect(await serverUp()).toBe(false);

    // A pass sees the loss first (class A) and records it, so restore still finds them afterwards.
    await pastGrace();
    const pass = await mam(['reconcile', '--once', '--emit-diff'], createEnv());
    const lost = emitted(pass).drifts.filter((drift) => drift['class'] === 'A');
    expect(lost).toHaveLength(10);
    expect(lost.every((drift) => drift['tmux_server_lost'] === 'crash' && String(drift['message']).includes('mam restore'))).toBe(true);
    expect(entries().every((entry) => entry.status === 'terminated' && entry.termination_mode === 'auto-detected' && entry.tmux_server_lost === 'crash')).toBe(true);

    const startedBefore = new Set(events().map((event) => event.pid));
    const restore = await mam(['restore', '--yes', '--parallel', '2', '--stagger', '100ms', '--json'], restoreEnv({ FAKE_AGENT_READY_DELAY_MS: '1500' }));
    expect(restore.code, restore.stderr).toBe(2); // r4 was not restored
    const done = report(restore);
    expect(done.results.map((result) => [result.session, result.outcome])).toEqual(made.map((session, index) => [session.name, index === 4 ? 'missing' : 'restored']));
    expect(done.results[4]!.message).toMatch(/gone/);

    // In registry order, each start at least the stagger after the one before.
    const starts = done.results.filter((result) => result.outcome === 'restored').map((result) => Date.parse(result.started_at!));
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    for (let index = 1; index < starts.length; index += 1) expect(starts[index]! - starts[index - 1]!).toBeGreaterThanOrEqual(100);

    // Each agent back in its own conversation, in its workspace, with the HOME it was created with; never more than
    // two waiting for their prompt at once (by their own log, not mam's word).
    const restarted = events().filter((event) => event.event === 'start' && !startedBefore.has(event.pid));
    expect(restarted).toHaveLength(9);
    for (const [index, session] of made.entries()) {
      if (index === 4) continue;
      const start = restarted.find((event) => event.cwd === session.ws);
      expect(start?.resume, session.name).toBe(session.id);
      expect(events().some((event) => event.pid === start!.pid && event.event === 'resumed' && event.file === session.file)).toBe(true);
      const entry = entryOf(session.name);
      expect(entry).toMatchObject({ status: 'running', gemini_session_id_own: session.id });
      expect(entry.tmux_server_lost).toBeUndefined();
      expect(entry.pane?.pid).toBe(start!.pid);
    }
    expect(mostStartingAtOnce(new Set(restarted.map((event) => event.pid)))).toBeLessThanOrEqual(2);
    const newServer = Number((await box.tmux(server, 'display-message', '-p', '#{pid}')).trim());
    expect(entryOf('r0').tmux_server_pid).toBe(newServer);

    // r4 is still lost: reported again, and started fresh only when asked to.
    expect(entryOf('r4')).toMatchObject({ status: 'terminated', tmux_server_lost: 'crash' });
    const fresh = await mam(['restore', '--yes', '--fresh-if-missing', '--json'], restoreEnv());
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(report(fresh).results).toEqual([expect.objectContaining({ session: 'r4', outcome: 'restored', tier: 'fresh', conversation_id: null })]);
    expect(entryOf('r4')).toMatchObject({ status: 'running', gemini_session_id_own: null });
    const again = await mam(['restore', '--json'], restoreEnv());
    expect(report(again).plan).toEqual([]);
  }, 600_000);

  it('refuses bad input with a clear error and changes nothing', async () => {
    const ws = path.join(box.root, 'work', 'x');
    await mkdir(ws, { recursive: true });
    await box.writeRegistry(`# mine\ntmux_sessions:\n  - name: kept\n    agent: gemini\n    workspace: ${ws}\n    status: stopped\n    tmux_server: ${server}\n`);
    const before = registryText();
    const cases: [string[], RegExp][] = [
      [['--parallel', '0'], /--parallel takes a whole number of at least 1, not "0"/],
      [['--parallel', 'two'], /--parallel takes a whole number of at least 1, not "two"/],
      [['--stagger', 'soon'], /--stagger takes a duration such as 2s, 500ms or 0, not "soon"/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const result = await mam(['restore', '--yes', ...args], restoreEnv());
      expect(result.code, args.join(' ')).toBe(64);
      expect(result.stderr).toMatch(message);
    }
    // A stopped session is not lost: naming it says what to do instead.
    const named = await mam(['restore', '--yes', 'kept'], restoreEnv());
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/kept: not a session lost with its tmux server .*mam restore --dry-run.*mam resume NAME/);
    // Nothing lost at all: said, exit 0, no --yes needed.
    const nothing = await mam(['restore'], restoreEnv());
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toMatch(/^nothing to restore: no session in .* went with its tmux server$/m);
    expect(registryText()).toBe(before);
    expect(await serverUp()).toBe(false);
  });

  it('after a reboot (another boot id recorded), asks on a terminal: no starts nothing, yes restores', async () => {
    const made = await makeSession(0);
    const recorded = await mam(['reconcile', '--once', '--emit-diff'], createEnv());
    expect(emitted(recorded).drifts.map((drift) => drift['class'])).toEqual(['C']);
    // The entry as the previous boot wrote it: a reboot is exactly another boot id, and the server gone.
    await writeFile(box.registry, registryText().replace(/^(\s*boot_id:).*$/m, '$1 0f0f0f0f-0000-4000-8000-000000000000'));
    process.kill(Number((await box.tmux(server, 'display-message', '-p', '#{pid}')).trim()), 'SIGKILL');
    await until(async () => !(await serverUp()), 'the killed tmux server to be gone', 30_000);
    await pastGrace();
    const pass = await mam(['reconcile', '--once', '--emit-diff'], createEnv());
    expect(emitted(pass).drifts).toEqual([expect.objectContaining({ class: 'A', session: 'r0', tmux_server_lost: 'reboot' })]);

    // `mam restore` on a terminal: a pane of another private server, its screen read back.
    const terminal = box.serverName('tty');
    const ask = async (answer: string): Promise<string> => {
      const argv = [process.execPath, path.join(REPO, 'dist/cli/main.js'), 'restore'];
      const shell = `${argv.map((word) => `'${word}'`).join(' ')}; echo "exit=$?"; sleep 100000`;
      const envFlags = Object.entries(restoreEnv()).flatMap(([key, value]) => (value === undefined ? [] : ['-e', `${key}=${value}`]));
      await box.tmux(terminal, 'new-session', '-d', '-s', 'term', '-x', '200', '-y', '50', ...envFlags, shell);
      const look = () => box.tmux(terminal, 'capture-pane', '-p', '-J', '-t', '=term:').catch(() => '');
      await until(async () => (await look()).includes('Start 1 session? [y/N]'), 'the question on the terminal', 60_000, { detail: look });
      expect(await look()).toMatch(/r0 \(gemini, lost at a reboot\): resumes its recorded conversation/);
      await box.tmux(terminal, 'send-keys', '-t', '=term:', '-l', answer);
      await box.tmux(terminal, 'send-keys', '-t', '=term:', 'Enter');
      await until(async () => /exit=\d+/.test(await look()), 'restore to end', 120_000, { detail: look });
      const text = await look();
      await box.tmux(terminal, 'kill-server').catch(() => undefined);
      return text;
    };
    const declined = await ask('n');
    expect(declined).toMatch(/not confirmed; nothing was started[\s\S]*exit=1/);
    expect(await serverUp()).toBe(false);
    expect(entryOf('r0')).toMatchObject({ status: 'terminated', tmux_server_lost: 'reboot' });

    const accepted = await ask('y');
    expect(accepted).toMatch(/restored r0: resumed conversation [\s\S]*exit=0/);
    expect(entryOf('r0')).toMatchObject({ status: 'running', gemini_session_id_own: made.id });
    expect(entryOf('r0').boot_id).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(events().some((event) => event.event === 'resumed' && event.id === made.id && event.pid !== made.pid)).toBe(true);
  }, 600_000);
});
