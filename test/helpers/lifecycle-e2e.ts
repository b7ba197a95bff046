import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { eachTest } from './each-test.js';
import { FakeAgents, type FakeAgentEvent } from './fake-agents.js';
import { holdLock, releaseLock } from './lock-holder.js';
import { emitted, mam, type MamResult, type Sandbox } from './sandbox.js';
import { until, untilValue } from './until.js';

/**
 * The set-up of the `mam create / resume / stop / delete / status` end-to-end files (test/cli/lifecycle*.e2e): the
 * built CLI, real tmux on private sockets, and test/fixtures/fake-agent.mjs standing in for codex, gemini and agy,
 * writing their conversation artifacts in the real agents' on-disk formats under a temporary HOME and CODEX_HOME.
 * Every test gets a world of its own ({@link lifecycleEachTest}); nothing is shared between tests.
 */

export const KINDS = ['codex', 'gemini', 'agy'] as const;
export type Kind = (typeof KINDS)[number];
export const ID_FIELD = { codex: 'codex_session_id_own', gemini: 'gemini_session_id_own', agy: 'agy_conversation_id_own' } as const;
export const RESUME_ARGS = { codex: (id: string) => ['resume', id], gemini: (id: string) => ['--resume', id], agy: (id: string) => ['--conversation', id] };
/** What mam always starts each kind with (`launchArgs` in its module). */
export const LAUNCH_ARGS: Record<Kind, string[]> = { codex: ['--no-daemon'], gemini: [], agy: [] };
/** How each fake agent records that it left by its own exit keys (/quit typed, or Ctrl-D = end of file). */
export const EXIT_VIA = { codex: 'ctrl-c-twice', gemini: 'ctrl-c-twice', agy: 'eof' } as const;
/** Text on each fake agent's screen once it waits for input. */
export const PROMPT_MARK = { codex: '›', gemini: 'Type your message', agy: '>' } as const;

export interface Created {
  readonly name: string;
  readonly ws: string;
  readonly pid: number;
}

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

/** One test's world: the fake agents' sandbox, its tmux server, and the lock holders the test started. */
export class LifecycleWorld {
  private readonly holders: ChildProcess[] = [];

  private constructor(
    readonly agents: FakeAgents,
    readonly codexHome: string,
  ) {}

  static async create(): Promise<LifecycleWorld> {
    const agents = await FakeAgents.create('mam-lifecycle-', 'life', KINDS);
    return new LifecycleWorld(agents, path.join(agents.box.root, 'codex-home'));
  }

  get box(): Sandbox {
    return this.agents.box;
  }

  get server(): string {
    return this.agents.server;
  }

  async dispose(): Promise<void> {
    for (const holder of this.holders.splice(0)) releaseLock(holder);
    // kill-server hangs each pane up; the agents' exits reach the log before the sandbox is removed.
    await this.agents.dispose(5_000);
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return this.box.env({
      PATH: this.agents.path,
      FAKE_AGENT_LOG: this.agents.log,
      CODEX_HOME: this.codexHome,
      MAM_TMUX_SERVER: this.server,
      MAM_REGISTRY: this.box.registry,
      // The fake agents leave at once on their exit keys, but on a loaded machine two Ctrl-Cs can take longer than the
      // default 3 s to reach one and be acted on; a stop that then closed the session would be recorded as forced.
      MAM_STOP_GRACE: '60',
      ...extra,
    });
  }

  mamRun(args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<MamResult> {
    return mam(args, this.env(extra));
  }

  events(): FakeAgentEvent[] {
    return this.agents.events();
  }

  eventsOf(pid: number): FakeAgentEvent[] {
    return this.events().filter((event) => event.pid === pid);
  }

  async sessions(): Promise<string[]> {
    try {
      return (await this.box.tmux(this.server, 'list-sessions', '-F', '#{session_name}')).split('\n').filter(Boolean);
    } catch {
      return []; // no server: no sessions
    }
  }

  async typeLine(name: string, text: string): Promise<void> {
    await this.box.tmux(this.server, 'send-keys', '-t', `=${name}:`, '-l', text);
    await this.box.tmux(this.server, 'send-keys', '-t', `=${name}:`, 'Enter');
  }

  /** The agent's whole world of artifacts: HOME (gemini, agy) and CODEX_HOME. */
  artifactFiles(): Map<string, string> {
    return new Map([...fileHashes(this.box.home), ...fileHashes(this.codexHome)]);
  }

  conversationFiles(kind: Kind): string[] {
    const files = [...this.artifactFiles().keys()];
    if (kind === 'codex') return files.filter((file) => /\/rollout-[^/]+\.jsonl$/.test(file));
    if (kind === 'gemini') return files.filter((file) => /\/chats\/session-[^/]+\.jsonl$/.test(file));
    return files.filter((file) => /\/conversations\/[^/]+\.db$/.test(file));
  }

  /** `mam create` of a fake agent, checked, and waited for until its prompt is on screen. */
  async create(kind: Kind, wsName = `ws-${kind}`, extraArgs: string[] = []): Promise<Created> {
    const ws = await this.agents.workspace(wsName);
    const result = await this.mamRun(['create', '--agent', kind, '--workspace', ws, '--json', ...extraArgs]);
    expect(result.code, result.stderr).toBe(0);
    const { entry } = JSON.parse(result.stdout) as { entry: RegistryEntry };
    await until(async () => (await this.agents.screen(entry.name)).includes(PROMPT_MARK[kind]), `${kind}'s prompt`, 60_000);
    return { name: entry.name, ws, pid: entry.pane!.pid! };
  }

  /** Types a prompt and waits for the agent to have written it into its conversation artifact. */
  async prompt(name: string, pid: number, text: string): Promise<{ id: string; file: string }> {
    await this.typeLine(name, text);
    const appended = await untilValue(() => this.eventsOf(pid).find((event) => event.event === 'appended' && event.text === text), `${JSON.stringify(text)} in the artifact`, 60_000);
    return { id: appended.id!, file: appended.file! };
  }

  /** `mam reconcile --once` and its class-C drift for `name`. */
  async reconcileRecords(name: string): Promise<Record<string, unknown>> {
    const result = await this.mamRun(['reconcile', '--once', '--emit-diff']);
    const report = emitted(result);
    const drift = report.drifts.find((candidate) => candidate['class'] === 'C' && candidate['session'] === name);
    if (!drift) throw new Error(`no class C drift for ${name}: ${result.stdout}\n${result.stderr}`);
    return drift;
  }

  /** create → prompt → reconcile records the id → stop: a stopped session with a recorded conversation. */
  async stoppedConversation(kind: Kind, wsName?: string): Promise<Created & { id: string; file: string }> {
    const created = await this.create(kind, wsName);
    const conversation = await this.prompt(created.name, created.pid, `hello from the ${kind} test`);
    expect(await this.reconcileRecords(created.name)).toMatchObject({ conversation_id: conversation.id });
    const stop = await this.mamRun(['stop', '--session', created.name]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(this.agents.entryOf(created.name)).toMatchObject({ status: 'stopped', [ID_FIELD[kind]]: conversation.id });
    return { ...created, ...conversation };
  }

  /** Runs the fake agent directly (no tmux, no mam) in `cwd` for one prompt: another conversation on disk. */
  async conversationOutsideMam(kind: Kind, cwd: string, text = 'an unrelated conversation'): Promise<{ id: string; file: string }> {
    const child = spawn(path.join(this.agents.bin, kind), [], { cwd, env: this.env(), stdio: ['pipe', 'ignore', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.end(`${text}\n`);
    await exited;
    const made = this.events().find((event) => event.pid === child.pid && event.event === 'artifact');
    if (!made) throw new Error(`the fake ${kind} made no artifact`);
    return { id: made.id!, file: made.file! };
  }

  /**
   * Holds the registry's lock from a separate `flock`, as another writer would, until the test ends (dispose ends
   * its process group). A holder that let go after a fixed time raced the command under test on a loaded machine:
   * a `create` that took longer than that to reach its registry write found the lock free and succeeded.
   */
  async holdRegistryLock(): Promise<string> {
    const lockFile = `${this.box.registry}.lock`;
    this.holders.push(await holdLock(lockFile, this.env()));
    return lockFile;
  }
}

/**
 * Registers a fresh {@link LifecycleWorld} for every test of the calling file (and its clean-up), and returns the
 * world's helpers bound to whichever test is running, so a test reads as `await create('codex')`.
 */
export function lifecycleEachTest() {
  const world = eachTest('the lifecycle world', () => LifecycleWorld.create(), (current) => current.dispose());
  return {
    world,
    box: (): Sandbox => world().box,
    server: (): string => world().server,
    env: (extra?: NodeJS.ProcessEnv) => world().env(extra),
    mamRun: (args: readonly string[], extra?: NodeJS.ProcessEnv) => world().mamRun(args, extra),
    workspace: (name: string) => world().agents.workspace(name),
    registryText: () => world().agents.registryText(),
    entries: () => world().agents.entries(),
    entryOf: (name: string) => world().agents.entryOf(name),
    events: () => world().events(),
    eventsOf: (pid: number) => world().eventsOf(pid),
    sessions: () => world().sessions(),
    screen: (name: string) => world().agents.screen(name),
    artifactFiles: () => world().artifactFiles(),
    conversationFiles: (kind: Kind) => world().conversationFiles(kind),
    create: (kind: Kind, wsName?: string, extraArgs?: string[]) => world().create(kind, wsName, extraArgs),
    prompt: (name: string, pid: number, text: string) => world().prompt(name, pid, text),
    reconcileRecords: (name: string) => world().reconcileRecords(name),
    stoppedConversation: (kind: Kind, wsName?: string) => world().stoppedConversation(kind, wsName),
    conversationOutsideMam: (kind: Kind, cwd: string, text?: string) => world().conversationOutsideMam(kind, cwd, text),
    holdRegistryLock: () => world().holdRegistryLock(),
  };
}
