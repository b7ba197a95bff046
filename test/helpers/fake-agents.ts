import { existsSync, readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { REPO, Sandbox } from './sandbox.js';
import { until } from './until.js';

/**
 * The set-up the lifecycle and restore e2e files share: test/fixtures/fake-agent.mjs on a private PATH under the
 * names of the agents it stands in for, its event log, the sandbox's registry read back as entries, and a teardown
 * that kills the test's tmux server and waits for the agents it started to log their exit before the sandbox goes.
 */

export const FAKE_AGENT = path.join(REPO, 'test/fixtures/fake-agent.mjs');

/** One line of the fake agents' event log, as test/fixtures/fake-agent.mjs writes it (`log(event, fields)`). */
export interface FakeAgentEvent {
  readonly at: string;
  /** The name it was started as: codex, gemini or agy. */
  readonly kind: string;
  readonly pid: number;
  readonly event: 'start' | 'not-found' | 'resumed' | 'ready' | 'line' | 'approval' | 'approval-asked' | 'artifact' | 'appended' | 'exit';
  readonly argv?: string[];
  readonly args?: string[];
  readonly cwd?: string;
  readonly resume?: string | null;
  readonly text?: string;
  readonly id?: string;
  readonly file?: string;
  readonly command?: string;
  readonly approved?: boolean;
  readonly via?: string;
  readonly code?: number;
}

export class FakeAgents {
  private constructor(
    readonly box: Sandbox,
    readonly server: string,
    /** The folder holding the fake agents: put it first on PATH. */
    readonly bin: string,
    /** FAKE_AGENT_LOG: one JSON event per line. */
    readonly log: string,
  ) {}

  /** A sandbox with a tmux server name and the fake agent on `bin` as each of `kinds`. */
  static async create(prefix: string, serverPrefix: string, kinds: readonly string[]): Promise<FakeAgents> {
    const box = await Sandbox.create(prefix);
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    for (const kind of kinds) await symlink(FAKE_AGENT, path.join(bin, kind));
    return new FakeAgents(box, box.serverName(serverPrefix), bin, path.join(box.root, 'agent.log'));
  }

  /** PATH with the fake agents first. */
  get path(): string {
    return `${this.bin}${path.delimiter}${process.env['PATH'] ?? ''}`;
  }

  /** A fresh folder under the sandbox for an agent to work in. */
  async workspace(name: string): Promise<string> {
    const dir = path.join(this.box.root, 'work', name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Every event the fake agents logged so far, in order. */
  events(): FakeAgentEvent[] {
    if (!existsSync(this.log)) return [];
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as FakeAgentEvent);
  }

  registryText(): string {
    return existsSync(this.box.registry) ? readFileSync(this.box.registry, 'utf8') : '';
  }

  entries(): readonly RegistryEntry[] {
    const text = this.registryText();
    return text ? parseRegistry(this.box.registry, text).entries : [];
  }

  entryOf(name: string): RegistryEntry {
    const found = this.entries().find((entry) => entry.name === name);
    if (!found) throw new Error(`${name} is not in the registry:\n${this.registryText()}`);
    return found;
  }

  /** What the pane of session `name` shows now ('' when the session or server is gone). */
  async screen(name: string): Promise<string> {
    return this.box.tmux(this.server, 'capture-pane', '-p', '-J', '-t', `=${name}:`).catch(() => '');
  }

  /**
   * Ends the test's tmux server, then waits (up to `waitMs`, then gives up quietly) for every agent that logged a
   * start to exit: agents write their exit to the log, which must not happen after the sandbox is removed.
   */
  async dispose(waitMs: number): Promise<void> {
    await this.box.tmux(this.server, 'kill-server').catch(() => undefined);
    const started = this.events()
      .filter((event) => event.event === 'start')
      .map((event) => event.pid);
    await until(() => started.every((pid) => !alive(pid)), 'every fake agent to exit', waitMs).catch(() => undefined);
    await this.box.dispose();
  }
}

/** Whether `pid` is running (a zombie is not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}
