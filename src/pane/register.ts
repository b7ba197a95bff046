import { MamError, UsageError } from '../util/errors.js';
import type { LifecycleContext } from '../lifecycle/context.js';
import { CONVERSATION_ID_PATTERN, isoSeconds } from '../registry/schema.js';
import { readRegistry, updateRegistry } from '../registry/store.js';
import { liveSessionId, notOnServer } from './kill.js';
import { findPane, paneRecords, ROLE_PATTERN, setPaneFields, type PaneFields, type PaneRecord } from './record.js';
import { PANE_ID_PATTERN, paneInfo, type PaneServer } from '../tmux/panes.js';

/**
 * `mam pane register`: template 6 (docs/pane.md, 'Where the pane commands come from'), run by an agent inside its
 * own pane. It finds its pane, session and window, records its conversation id (given, or found on disk for the live
 * agent), and ticks the close-down boxes it is given; `--ready-to-close` ticks them all, as the template's last
 * step. Identity (`/color`, `/rename`) is not touched: the spawner sets that.
 */
export interface RegisterRequest {
  readonly server: PaneServer;
  /** Default: $TMUX_PANE, the pane the agent runs in. */
  readonly paneId: string | undefined;
  readonly role: string | undefined;
  readonly agent: string | undefined;
  readonly sessionId: string | undefined;
  readonly reportBack: boolean;
  readonly taskDone: boolean;
  readonly readyToClose: boolean;
}

export async function registerPane(context: LifecycleContext, request: RegisterRequest): Promise<PaneRecord> {
  const paneId = request.paneId;
  if (!paneId) throw new UsageError('pane register: not inside tmux ($TMUX_PANE is unset): pass --pane %N and --tmux-server S');
  if (!PANE_ID_PATTERN.test(paneId)) throw new UsageError(`pane register: --pane ${JSON.stringify(paneId)} is not a pane id like %3`);
  if (request.role !== undefined && !ROLE_PATTERN.test(request.role)) throw new UsageError(`pane register: --role ${JSON.stringify(request.role)} must be 1–32 of A–Z a–z 0–9 _ -`);
  if (request.sessionId !== undefined && !CONVERSATION_ID_PATTERN.test(request.sessionId)) throw new UsageError(`pane register: --session-id ${JSON.stringify(request.sessionId)} is not a conversation id`);
  const { run: server, name: serverName } = request.server;
  const info = await paneInfo(server, paneId, context.tmux);
  if (!info || info.dead) {
    throw new MamError(notOnServer(paneId, request.server, paneRecords((await readRegistry(context.registryFile)).document)));
  }
  const known = findPane(paneRecords((await readRegistry(context.registryFile)).document), serverName, paneId);
  const sessionId = request.sessionId ?? (await liveSessionId(context, request.agent ?? known?.agent ?? undefined, info));
  const all = request.readyToClose;
  return updateRegistry(
    context.registryFile,
    (registry) => {
      const existing = findPane(paneRecords(registry.document), serverName, paneId);
      const open = existing && existing.status !== 'closed' ? existing : undefined;
      const role = request.role ?? open?.role ?? context.env['MAM_PANE_ROLE'] ?? null;
      const fields: PaneFields = {
        ...(open ? {} : { created_at: isoSeconds(context.now()), spawner_pane: context.env['MAM_SPAWNER_PANE'] || null }),
        role,
        agent: request.agent ?? open?.agent ?? null,
        status: all ? 'ready-to-close' : open?.status === 'spawning' || !open ? 'active' : open.status,
        session: info.session,
        window_id: info.windowId,
        workspace: info.cwd,
        ...(sessionId ? { session_id: sessionId } : {}),
        ...(request.reportBack || all ? { report_back: true } : {}),
        ...(request.taskDone || all ? { task_done: true } : {}),
      };
      setPaneFields(registry.document, serverName, paneId, fields, !open);
      const row = findPane(paneRecords(registry.document), serverName, paneId);
      if (!row) throw new MamError(`pane ${paneId}: the registry row could not be written (is a hand-edited row for it invalid?)`);
      return { changed: true, result: row };
    },
    context.lock,
  );
}
