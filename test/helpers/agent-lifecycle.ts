import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { capture, isAlive, waitForScreen, type RealAgentSession } from './real-agent.js';
import { emitted, mam, type MamResult, type Sandbox } from './sandbox.js';
import { until, type UntilOptions } from './until.js';

/**
 * The steps the real-Codex and real-Gemini lifecycle and hook tests take alike (test/codex, test/gemini), over one
 * agent's traits from its fixture.ts: each test file keeps what is its agent's own (its files on disk, what its pane
 * runs, when its hooks fire), and the walk through create, a reply, an approval, stop, resume and purge is here once.
 */
export interface AgentTraits {
  readonly agent: 'codex' | 'gemini';
  /** The registry field that holds the agent's own conversation id. */
  readonly idField: 'codex_session_id_own' | 'gemini_session_id_own';
  /** The agent idle at an empty prompt, no dialog or busy line on screen. */
  isIdle(screen: string): boolean;
  /** Types a line into the agent's input and submits it. */
  submit(box: Sandbox, server: string, target: string, text: string): Promise<void>;
  /** How long a screen may take to show what is awaited (Gemini, two Node processes, draws slower than Codex). */
  readonly screenMs: number;
  /** Text of the agent's dialog asking to run a command, and the key that allows it once. */
  readonly approvalDialog: string;
  readonly approveKey: string;
}

type Session = Pick<RealAgentSession<unknown>, 'box' | 'env' | 'server' | 'target' | 'name' | 'workspace'>;

/** `status --json`'s first session: its activity and where that came from. */
interface Activity {
  readonly activity?: string;
  readonly activity_source?: string;
}

/**
 * Steps over the session `current()` returns (the test's own, set in each test): `run` is `mam … --registry <its
 * registry>` with its environment, `entry` its registry entry by name, and the rest the lifecycle's steps with their
 * assertions.
 */
export function agentSteps(traits: AgentTraits, current: () => Session) {
  const run = (...args: string[]): Promise<MamResult> => mam([...args, '--registry', current().box.registry], current().env);
  const entry = async (name: string): Promise<RegistryEntry | undefined> => {
    const { registry } = current().box;
    return parseRegistry(registry, await readFile(registry, 'utf8')).entries.find((item) => item.name === name);
  };
  const activity = async (): Promise<Activity> => (JSON.parse((await run('status', '--json')).stdout) as { sessions: Activity[] }).sessions[0] ?? {};
  const screen = (predicate: (text: string) => boolean, what: string): Promise<string> => {
    const { box, server, target } = current();
    return waitForScreen(box, server, target, predicate, traits.screenMs, what);
  };
  /** Submits `prompt` and waits for `reply` on screen with the agent idle again. */
  const say = async (prompt: string, reply: string, what = 'the reply'): Promise<void> => {
    const { box, server, target } = current();
    await traits.submit(box, server, target, prompt);
    await screen((text) => text.includes(reply) && traits.isIdle(text), what);
  };
  const pressApprove = (): Promise<string> => {
    const { box, server, target } = current();
    return box.tmux(server, 'send-keys', '-t', target, traits.approveKey);
  };

  return {
    run,
    entry,
    activity,
    say,

    /** `mam create --agent <agent>` in the session's workspace: prints the session's name; returns its fresh entry. */
    async create(): Promise<RegistryEntry | undefined> {
      const { workspace, server, name } = current();
      const created = await run('create', '--agent', traits.agent, '--workspace', workspace, '--tmux-server', server);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout.trim()).toBe(name);
      return entry(name);
    },

    /** Until the agent shows its idle prompt. */
    idle: (): Promise<string> => screen(traits.isIdle, 'the idle prompt'),

    /** `reconcile --once --emit-diff` records conversation `id` as the session's own (class C). */
    async recordsId(id: string): Promise<void> {
      const { server, name } = current();
      const reconciled = emitted(await run('reconcile', '--once', '--emit-diff', '--tmux-server', server));
      expect(reconciled.drifts).toEqual([expect.objectContaining({ class: 'C', session: name, conversation_id: id })]);
      expect(await entry(name)).toMatchObject({ [traits.idField]: id });
    },

    /**
     * With no hooks installed, a command the model asks to run (`prompt` → a tool call that makes `made` in the
     * workspace, then `done`): the dialog is seen on the pane (needs approval, source pane), allowed once, the file is
     * made and the status leaves needs approval.
     */
    async approvedOnPane(prompt: string, done: string): Promise<void> {
      const { box, server, target, workspace } = current();
      await traits.submit(box, server, target, prompt);
      await screen((text) => text.includes(traits.approvalDialog), 'the approval dialog');
      expect(await activity()).toMatchObject({ activity: 'needs_approval', activity_source: 'pane' });
      await pressApprove();
      await screen((text) => text.includes(done) && traits.isIdle(text), 'the approved turn to end');
      expect((await stat(path.join(workspace, 'made'))).isFile()).toBe(true);
      await until(async () => (await activity()).activity !== 'needs_approval', 'the dialog to leave the status', 60_000);
    },

    /**
     * `mam stop --reason 'end of day'` ends the agent (`pid`, the pane's) by its exit keys within that rung, and the
     * entry keeps conversation `id`, resumable.
     */
    async stopsGracefully(pid: number, id: string): Promise<void> {
      const { name } = current();
      const stopped = await run('stop', '--session', name, '--reason', 'end of day');
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
      expect(isAlive(pid)).toBe(false);
      expect(await entry(name)).toMatchObject({ status: 'stopped', termination_mode: 'graceful', stop_rung: 'exit-keys', stop_reason: 'end of day', [traits.idField]: id, resumable: true });
    },

    /**
     * `mam resume --json` by the recorded id with `argv`; the old conversation (`shown`) back on screen; then `prompt`
     * answered with `reply`, which lands in `file`, the conversation's file on disk.
     */
    async resumes(id: string, argv: readonly string[], shown: string, prompt: string, reply: string, file: string): Promise<void> {
      const { name } = current();
      const resumed = await run('resume', '--session', name, '--json');
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout)).toMatchObject({ tier: 'recorded-id', conversationId: id, argv });
      await screen((text) => text.includes(shown) && traits.isIdle(text), 'the old conversation on screen after resume');
      await say(prompt, reply, 'the reply after resume');
      // Only a wait, not a check: what the file must hold after it is the agent's own (Gemini may go on in a second file).
      await waitFor(async () => (await readFile(file, 'utf8')).includes(reply), 30_000, 100);
    },

    /** Stop (by the exit keys again), then delete: the entry is gone. */
    async stopsAndDeletes(): Promise<void> {
      const { name } = current();
      expect((await run('stop', '--session', name)).stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
      const deleted = await run('delete', '--session', name);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(await entry(name)).toBeUndefined();
    },

    /**
     * `stop --purge-conversation` without `--yes` is refused (64) and deletes nothing (`files()` still `before`); with
     * `--yes` it leaves `after` and terminates the entry, not resumable.
     */
    async purges(files: () => Promise<string[]>, before: readonly string[], after: readonly string[]): Promise<void> {
      const { name } = current();
      const refused = await run('stop', '--session', name, '--purge-conversation');
      expect(refused.code).toBe(64);
      expect(await files()).toEqual(before);
      const purged = await run('stop', '--session', name, '--purge-conversation', '--yes');
      expect(purged.code, purged.stderr).toBe(0);
      expect(await files()).toEqual(after);
    },

    /** The entry after a purge: terminated, by purge, not resumable. */
    async purged(): Promise<void> {
      expect(await entry(current().name)).toMatchObject({ status: 'terminated', termination_mode: 'purge', resumable: false });
    },
  };
}

/**
 * The fact files `mam hook` writes for a session under the sandbox's status folder, as the hook tests watch them:
 * `files()` the session's (not the hook's own), `main()` the main agent's status, `watching` what a timed-out wait
 * prints (the facts, the files and the screen); and the hook tests' steps both agents take alike.
 */
export function hookFacts(traits: AgentTraits, session: Session) {
  const { box, server, target, name, env, workspace } = session;
  const statusDir = path.join(box.root, 'cache', 'mam', 'status');
  const files = async (): Promise<string[]> => (await readdir(statusDir).catch(() => [] as string[])).filter((file) => file.endsWith('.json') && !file.startsWith('hook'));
  const main = async (): Promise<string | undefined> => {
    const file = (await files()).find((candidate) => candidate.endsWith('.agent.main.json'));
    return file && (JSON.parse(await readFile(path.join(statusDir, file), 'utf8')) as { status: string }).status;
  };
  const watching: UntilOptions = { detail: async () => `facts: ${await main()}; files: ${(await files()).join(', ')}\n${await capture(box, server, target).catch(() => '')}` };
  const untilMain = (status: string, what: string): Promise<number> => until(async () => (await main()) === status, what, 60_000, watching);
  return {
    statusDir,
    files,
    main,
    watching,
    untilMain,

    /**
     * `prompt` makes the model ask to run a command that makes `made` in the workspace, then say `done`: while the
     * dialog is up the hooks say needs approval (`asked`: the event that does it, for a timed-out wait) and `mam status`
     * takes it from them; allowed once, the turn ends, the hooks say waiting again (`after`) and the file is made.
     */
    async approvedByHooks(prompt: string, made: string, done: string, asked: string, after: string): Promise<void> {
      await traits.submit(box, server, target, prompt);
      await waitForScreen(box, server, target, (text) => text.includes(traits.approvalDialog), traits.screenMs, 'the approval dialog');
      await untilMain('needs_approval', asked);
      const status = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: Activity[] };
      expect(status.sessions[0]).toMatchObject({ activity: 'needs_approval', activity_source: 'hooks' });
      await box.tmux(server, 'send-keys', '-t', target, traits.approveKey);
      await waitForScreen(box, server, target, (text) => text.includes(done) && traits.isIdle(text), traits.screenMs, 'the approved turn to end');
      await untilMain('waiting', after);
      expect((await stat(path.join(workspace, made))).isFile()).toBe(true);
    },

    /**
     * `mam stop` presses the agent's exit keys; it fires SessionEnd on the way out and the session's fact files go.
     * Every payload came through the fast hook's spool (the Node hook never makes one), and the watcher took them all.
     */
    async endsClean(): Promise<void> {
      const stopped = await mam(['stop', '--session', name, '--registry', box.registry], env);
      expect(stopped.stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
      await until(async () => (await files()).length === 0, 'SessionEnd → the fact files removed', 60_000, watching);
      await until(async () => (await readdir(path.join(statusDir, 'spool')).catch(() => ['(no spool)'])).length === 0, 'the spool emptied by the watcher', 60_000, watching);
    },
  };
}
