import { agentForPane, agentKind, launcherFor } from '../agents/index.js';
import { MamError, UsageError } from '../util/errors.js';
import type { LifecycleContext } from '../lifecycle/context.js';
import { processTree } from '../proc/tree.js';
import { isoSeconds } from '../registry/schema.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { waitFor } from '../util/wait.js';
import { rebalance } from './layout.js';
import { PANE_TIMEOUTS } from '../deliver/policy.js';
import { elsewhere, findPane, paneRecords, setPaneFields, type PaneFields, type PaneRecord } from './record.js';
import { killPane, PANE_ID_PATTERN, paneInfo, pressKeys, type PaneInfo, type PaneServer } from '../tmux/panes.js';

/**
 * `mam pane kill`: template 3 (docs/pane.md, 'Where the pane commands come from'). A pane already gone is marked
 * closed (exit 0). Otherwise its pre-conditions are checked in the registry — report-back received, task done,
 * session id saved (looked up now if the agent has one on disk) — unless `--force`; then the agent's exit keys
 * (`/exit`), a wait for its process to end, `kill-pane` only if it is still there, `closed`, rebalance.
 */
export interface KillRequest {
  readonly server: PaneServer;
  readonly paneId: string;
  readonly force: boolean;
  readonly master: string | undefined;
}

export type CloseMode = 'exit-keys' | 'kill-pane' | 'already-gone';

export interface Killed {
  readonly paneId: string;
  readonly mode: CloseMode;
  readonly sessionId: string | null;
  readonly rebalanced: boolean;
}

/** A pane that is not on the addressed server: say so, and where the registry has it if it does. */
export function notOnServer(paneId: string, server: PaneServer, rows: readonly PaneRecord[]): string {
  const other = elsewhere(rows, server.name, paneId);
  const hint = other.length > 0
    ? `; the registry has an open ${paneId} on tmux server ${other.map((row) => row.tmux_server).join(', ')}: add --tmux-server ${other[0]!.tmux_server}`
    : '; pane ids are per tmux server: list them with `tmux list-panes -a -F \'#{pane_id}\'`';
  return `pane ${paneId} does not exist on tmux server ${server.name}${hint}`;
}

export async function killAgentPane(context: LifecycleContext, request: KillRequest): Promise<Killed> {
  if (!PANE_ID_PATTERN.test(request.paneId)) throw new UsageError(`pane kill: --pane ${JSON.stringify(request.paneId)} is not a pane id like %3`);
  if (request.master !== undefined && !PANE_ID_PATTERN.test(request.master)) throw new UsageError(`pane kill: --master ${JSON.stringify(request.master)} is not a pane id like %0`);
  const { run: server, name: serverName } = request.server;
  const rows = paneRecords((await readRegistry(context.registryFile)).document);
  const row = findPane(rows, serverName, request.paneId);
  const info = await paneInfo(server, request.paneId, context.tmux);
  const now = (): string => isoSeconds(context.now());

  if (!info || info.dead) {
    if (!row && !info) throw new MamError(notOnServer(request.paneId, request.server, rows));
    if (info?.dead) await killPane(server, request.paneId, context.tmux);
    if (row && row.status !== 'closed') await record(context, serverName, request.paneId, { status: 'closed', closed_at: now(), close_mode: 'already-gone' });
    context.say(`pane ${request.paneId} already gone — marked closed`);
    return { paneId: request.paneId, mode: 'already-gone', sessionId: row?.session_id ?? null, rebalanced: false };
  }

  const sessionId = row?.session_id ?? (await liveSessionId(context, row?.agent ?? undefined, info));
  if (!request.force) {
    if (!row) throw new MamError(`pane ${request.paneId} is not in the registry ${context.registryFile}: refusing to close an agent with no record of its report-back or task; register it (mam pane register) or pass --force`);
    const missing = [
      ...(row.report_back || row.status === 'ready-to-close' ? [] : ['its report-back was not received (report_back: false)']),
      ...(row.task_done || row.status === 'ready-to-close' ? [] : ['its task is not marked done (task_done: false)']),
      ...(sessionId || !agentKind(row.agent ?? '') ? [] : ['its session id is not saved and none is on disk']),
    ];
    if (missing.length > 0) {
      throw new MamError(`pane ${request.paneId} (${row.role ?? 'no role'}) is not ready to close: ${missing.join('; ')}. The agent marks itself with \`mam pane register --ready-to-close\`; or pass --force`);
    }
  }

  // Template 3, step 2: the agent's own exit (Claude: /exit) lets it flush its writes; then wait for it to go.
  const launcher = launcherFor(row?.agent ?? agentForPane(info.command)?.id ?? info.command);
  const agentProcesses = processTree(info.pid);
  await pressKeys(server, request.paneId, launcher.exitKeys, context.tmux);
  const gone = async (): Promise<boolean> => {
    const now = await paneInfo(server, request.paneId, context.tmux);
    return !now || now.dead;
  };
  let mode: CloseMode = 'exit-keys';
  context.progress(`pane ${request.paneId}: exit keys sent, waiting for the agent to end (up to ${PANE_TIMEOUTS.exit / 1000} s)`);
  const exited = await waitFor(gone, PANE_TIMEOUTS.exit).finally(() => context.progress(undefined));
  if (!exited) {
    mode = 'kill-pane';
    await killPane(server, request.paneId, context.tmux);
    if (!(await waitFor(gone, PANE_TIMEOUTS.killed))) throw new MamError(`pane ${request.paneId} is still there after /exit and kill-pane; its processes: ${agentProcesses.map((process) => process.pid).join(', ')}`);
  } else if ((await paneInfo(server, request.paneId, context.tmux))?.dead) {
    // remain-on-exit keeps a dead pane around; the agent has exited, so close what is left.
    await killPane(server, request.paneId, context.tmux);
  }
  await record(context, serverName, request.paneId, {
    status: 'closed',
    closed_at: now(),
    close_mode: mode,
    ...(sessionId ? { session_id: sessionId } : {}),
    ...(row ? {} : { role: null }),
  }, !row);

  const master = request.master ?? row?.master_pane ?? undefined;
  let rebalanced = false;
  if (master && master !== request.paneId && (await paneInfo(server, master, context.tmux))) {
    await rebalance(server, master, context.tmux);
    rebalanced = true;
  }
  return { paneId: request.paneId, mode, sessionId, rebalanced };
}

/** The conversation the pane's agent is in right now, from the agent's own live-session records. */
export async function liveSessionId(context: LifecycleContext, agent: string | undefined, info: PaneInfo): Promise<string | null> {
  const kind = agentKind(agent ?? '') ?? agentForPane(info.command);
  if (!kind) return null;
  const pids = new Set(processTree(info.pid).map((process) => process.pid));
  const conversations = await kind.conversations(info.cwd, context.artifacts).catch(() => []);
  return conversations.find((conversation) => conversation.livePid !== undefined && pids.has(conversation.livePid))?.id ?? null;
}

async function record(context: LifecycleContext, server: string, paneId: string, fields: PaneFields, create = false): Promise<void> {
  await updateRegistry(
    context.registryFile,
    (registry) => ({ changed: setPaneFields(registry.document, server, paneId, fields, create), result: undefined }),
    context.lock,
  );
}
