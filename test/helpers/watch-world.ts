import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runningWatcher } from '../../src/facts/watcher-pid.js';
import { processTree, signalAll, type ProcessId } from '../../src/proc/tree.js';
import { startHookAgent, type HookAgent } from './hook-agent.js';
import { Sandbox } from './sandbox.js';
import { untilValue } from './until.js';

/**
 * The world of a `mam watch` end-to-end test (docs/status.md): a sandbox whose hooks start the real detached watcher
 * on demand (`MAM_WATCH=1`, gone 2 s after it has nothing to watch), its status folder, stand-in agents that run
 * `mam hook` as their child as Claude does (test/helpers/hook-agent.ts), and what the watcher writes.
 * `dispose()` kills each agent with whatever it started, by pid and start time, then the sandbox with the watcher.
 */
export class WatchWorld {
  private readonly children: ChildProcess[] = [];

  /** What agents started from now on run with; a test may widen it (e.g. with a broker's URL). */
  env: NodeJS.ProcessEnv;

  private constructor(readonly box: Sandbox, env: NodeJS.ProcessEnv) {
    this.env = env;
  }

  static async create(prefix: string, extra: NodeJS.ProcessEnv = {}): Promise<WatchWorld> {
    const box = await Sandbox.create(prefix);
    return new WatchWorld(box, box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '2', ...extra }));
  }

  get statusDir(): string {
    return path.join(this.box.root, 'cache', 'mam', 'status');
  }

  /**
   * A stand-in agent in the sandbox (the commands it runs, e.g. `touch made`, must not land in the repository) whose
   * every payload carries `defaults` (session id, cwd, transcript) under what the test gives; `env` is its
   * environment when the test wants another than the world's.
   */
  startAgent(defaults: Record<string, unknown>, env: NodeJS.ProcessEnv = this.env): HookAgent {
    const agent = startHookAgent(env, this.box.root);
    this.track(agent.process);
    return { ...agent, hook: (payload) => agent.hook({ ...defaults, ...payload }) };
  }

  /** Another process the test started, killed with its tree on dispose. */
  track(child: ChildProcess): void {
    this.children.push(child);
  }

  /** The main agent's fact file for session `sid`, undefined while there is none. */
  async mainFact<T>(sid: string): Promise<T | undefined> {
    const text = await readFile(path.join(this.statusDir, `${sid}.agent.main.json`), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  /**
   * Claude's live record for agent process `pid` of session `sid`, as 2.1.197 writes it (docs/agents.md, 'Claude
   * session files'), with `status`; undefined removes it.
   */
  async liveRecord(pid: number, sid: string, status: string | undefined): Promise<void> {
    const file = path.join(this.box.home, '.claude', 'sessions', `${pid}.json`);
    if (status === undefined) return rm(file, { force: true });
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ pid, sessionId: sid, cwd: '/w', startedAt: Date.now(), kind: 'interactive', status, updatedAt: Date.now(), statusUpdatedAt: Date.now() }));
  }

  /** The watcher the hooks started, once it has claimed the status folder. */
  watcher(what = 'the watcher the hooks started'): Promise<ProcessId> {
    return untilValue(() => runningWatcher(this.statusDir), what, 60_000);
  }

  /** The watcher's log so far ('' before it wrote one). */
  log(): Promise<string> {
    return readFile(path.join(this.statusDir, 'watch.log'), 'utf8').catch(() => '');
  }

  async dispose(): Promise<void> {
    for (const child of this.children.splice(0)) if (child.pid) signalAll(processTree(child.pid), 'SIGKILL');
    await this.box.dispose();
  }
}
