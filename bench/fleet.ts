/**
 * A fleet of Claude sessions for the benches that need a large registry (oneshot, reconcile; bench/run.mjs runs only
 * *.bench.ts, so this is no bench itself): one registry entry a session, alive ones as `sleep` panes on a private tmux
 * server, terminated ones only in the registry.
 */

export interface FleetSession {
  readonly name: string;
  readonly workspace: string;
  readonly server: string;
  /** Running and in tmux; otherwise terminated (auto-detected) a day after it was created. */
  readonly alive: boolean;
  /** The recorded Claude conversation id, or null. */
  readonly id: string | null;
  readonly createdAt: string;
}

const TERMINATED_AT = '2026-01-02T00:00:00Z';

/** The registry entry of one fleet session, as `mam create` would have written it for a `sleep` pane. */
export function fleetEntry(session: FleetSession): Record<string, unknown> {
  const { name, workspace, server, alive, id, createdAt } = session;
  return {
    name,
    agent: 'claude',
    workspace,
    status: alive ? 'running' : 'terminated',
    tmux_server: server,
    pane: { pid: null, cmd: 'sleep', cwd: workspace },
    start_command: 'sleep 100000',
    mcp_attachments: [],
    claude_session_id_own: id,
    delegate_job_id: null,
    last_visible_status: alive ? 'working' : 'terminated',
    created_at: createdAt,
    ...(alive ? {} : { terminated_at: TERMINATED_AT, terminated_at_epoch: Math.floor(Date.parse(TERMINATED_AT) / 1000), termination_mode: 'auto-detected' }),
  };
}

/**
 * Starts a `sleep 100000` session for each of `sessions` on one tmux server, through `tmux(args)` (`tmux -L <server>
 * <args>`), in chains of `new-session -d … \; new-session -d …`: tmux sends a command line to its server in one
 * message of at most ~16 KiB (a 300-session chain fails), so chains are cut at ~8 KiB. The first starts the server,
 * without a config file.
 */
export async function startSleepSessions(tmux: (args: readonly string[]) => Promise<unknown>, sessions: readonly { readonly name: string; readonly cwd: string }[]): Promise<void> {
  const MAX_CHAIN_BYTES = 8 * 1024;
  let chain: string[] = [];
  let chainBytes = 0;
  let first = true;
  const flush = async (): Promise<void> => {
    if (chain.length === 0) return;
    await tmux(first ? ['-f', '/dev/null', ...chain] : chain);
    first = false;
    chain = [];
    chainBytes = 0;
  };
  for (const { name, cwd } of sessions) {
    const command = ['new-session', '-d', '-s', name, '-c', cwd, 'sleep 100000'];
    const bytes = command.reduce((sum, arg) => sum + Buffer.byteLength(arg) + 1, 2);
    if (chainBytes + bytes > MAX_CHAIN_BYTES) await flush();
    if (chain.length > 0) chain.push(';');
    chain.push(...command);
    chainBytes += bytes;
  }
  await flush();
}
