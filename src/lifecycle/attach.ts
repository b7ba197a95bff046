import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { MamError } from '../util/errors.js';
import { readRegistry } from '../registry/store.js';
import { sessionLive } from '../reconcile/reconcile.js';
import { serverArgs, serverLabel, snapshotServer, type TmuxServer } from '../tmux/client.js';
import { socketPath } from '../tmux/control.js';
import type { LifecycleContext } from './context.js';

/**
 * `mam attach NAME` and the dashboard's Enter (docs/ui.md, 'Attaching'): put a person's terminal on a registered
 * session. Inside tmux on the session's own server the current client switches to it (`switch-client`; the
 * dashboard's session stays where it was); anywhere else a new client attaches (`attach-session`) and gets the
 * terminal until it detaches. The plan is worked out first, so every refusal is a clear error before anything runs.
 */
export interface AttachPlan {
  readonly session: string;
  readonly server: TmuxServer;
  /** `switch`: this tmux client moves to the session; `attach`: a new client takes the terminal until detached. */
  readonly mode: 'switch' | 'attach';
  /** The tmux command (without the server's `-L`, which comes from `server`). */
  readonly args: readonly string[];
  /** tmux's environment: without $TMUX for `attach`, which tmux refuses to nest otherwise. */
  readonly env: NodeJS.ProcessEnv;
}

/** How to name a session in a suggested command: after `--` when it starts with `-`, so it is not read as a flag. */
export function nameArg(name: string): string {
  return name.startsWith('-') ? `-- ${name}` : name;
}

export async function attachPlan(context: LifecycleContext, session: string): Promise<AttachPlan> {
  const registry = await readRegistry(context.registryFile);
  const entry = registry.entries.find((candidate) => candidate.name === session);
  const resume = `mam resume ${nameArg(session)}`;
  if (!entry) {
    if (registry.names.has(session)) throw new MamError(`${session}: its registry entry is invalid (see \`mam reconcile --once\`); fix it before attaching`);
    throw new MamError(`${session} is not in the registry ${context.registryFile}; \`mam status\` lists the sessions, \`mam create\` starts one`);
  }
  if (entry.status === 'stopped') throw new MamError(`${session} is stopped${entry.stopped_at ? ` (since ${entry.stopped_at})` : ''}; start it again with \`${resume}\`, then attach`);
  if (entry.status === 'terminated') throw new MamError(`${session} has ended${entry.terminated_at ? ` (${entry.terminated_at})` : ''}; \`${resume}\` starts it again in its conversation`);
  const server = entry.tmux_server ?? null;
  const snapshot = await snapshotServer(server, context.tmux);
  if (snapshot.state === 'unknown') throw new MamError(`tmux server ${serverLabel(server)} could not be read (${snapshot.error}); nothing to attach to until it answers`);
  if (!sessionLive(snapshot.panes, session)) {
    if (entry.status === 'starting') throw new MamError(`${session} is still starting and has no tmux session yet; try again in a moment`);
    throw new MamError(`${session} is gone: the registry says ${entry.status}, but tmux server ${serverLabel(server)} has no live session of that name (the agent exited or the server was killed); \`${resume}\` starts it again`);
  }
  const target = `=${session}`;
  if (sameServer(server, context.env)) {
    return { session, server, mode: 'switch', args: ['switch-client', '-t', target], env: context.env };
  }
  const { TMUX: _tmux, TMUX_PANE: _pane, ...outside } = context.env;
  return { session, server, mode: 'attach', args: ['attach-session', '-t', target], env: outside };
}

/** Whether this process runs inside a tmux client of `server` ($TMUX names that server's socket). */
function sameServer(server: TmuxServer, env: NodeJS.ProcessEnv): boolean {
  const inside = env['TMUX']?.split(',')[0];
  if (!inside) return false;
  // The default server (null) is whatever plain `tmux` reaches: from inside tmux, the one we are in.
  return inside === socketPath(server, env);
}

/**
 * Runs the plan with the terminal handed over (stdio inherited) and resolves tmux's exit code: 0 once an attached
 * client detaches, or once a switch is made.
 */
export function runAttach(plan: AttachPlan, bin: string | undefined): Promise<number> {
  const tmux = bin ?? 'tmux';
  return new Promise((resolve, reject) => {
    const child = spawn(tmux, [...serverArgs(plan.server), ...plan.args], { stdio: 'inherit', env: plan.env });
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(new MamError(error.code === 'ENOENT' ? `${tmux} not found: install tmux (apt-get install tmux) or set MAM_TMUX_BIN` : `tmux could not be started: ${error.message}`)),
    );
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}
