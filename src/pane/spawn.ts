import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AGENT_KINDS, agentKind, launcherFor, type AgentKind } from '../agents/index.js';
import { MamError, UsageError } from '../util/errors.js';
import type { LifecycleContext } from '../lifecycle/context.js';
import { startOutcome } from '../lifecycle/start.js';
import { AgentName, isoSeconds } from '../registry/schema.js';
import { updateRegistry } from '../registry/store.js';
import { joinWords } from '../util/shell-words.js';
import { waitFor } from '../util/wait.js';
import { mamCommand, which } from '../util/which.js';
import { deliverMessage, runSlashCommand, type DeliveryTarget, type Receipt } from '../deliver/deliver.js';
import { checkAgentInPane, foregroundProcess } from './agent-check.js';
import { identityCommands, isPaneColor, paneTitle, roleColor, type PaneColor } from './identity.js';
import { rebalance } from './layout.js';
import { decide, PANE_TIMEOUTS, RETRY_TABLE } from '../deliver/policy.js';
import { ROLE_PATTERN, setPaneFields, type PaneFields } from './record.js';
import { capturePaneById, killPane, PANE_ID_PATTERN, paneInfo, splitPane, tmuxMust, WINDOW_ID_PATTERN, type PaneServer } from '../tmux/panes.js';

/**
 * `mam pane spawn`: template 1 of the tmux templates (docs/pane.md, 'Where the pane commands come from') without its
 * ~60 s of sleeps. Split → the agent's prompt (polled) → `/color` and `/rename` (each confirmed) → `allow-rename
 * off` and the pane title → the role prompt (a confirmed delivery) → main-vertical with the master in place. The
 * pane is recorded as `spawning` the moment it exists, so a failure later never leaves an untracked agent.
 */
export interface SpawnRequest {
  readonly server: PaneServer;
  readonly role: string;
  readonly task: string | undefined;
  readonly agent: string;
  readonly agentArgs: readonly string[];
  /** The coordinator pane that stays the main pane; default: the pane mam runs in. */
  readonly master: string | undefined;
  /** The pane to split, or a window (`@N`) whose active pane is split; default: the master. */
  readonly window: string | undefined;
  readonly split: 'h' | 'v';
  readonly color: string | undefined;
  readonly cwd: string | undefined;
  /** The pane mam was called from ($TMUX_PANE), if any. */
  readonly callerPane: string | undefined;
  /** Send the role prompt after the identity (default); false leaves the agent at an empty prompt. */
  readonly prompt: boolean;
}

export interface Spawned {
  readonly paneId: string;
  readonly fields: PaneFields;
  readonly readyMs: number;
  readonly prompt: Receipt | undefined;
}

export async function spawnPane(context: LifecycleContext, request: SpawnRequest): Promise<Spawned> {
  if (!ROLE_PATTERN.test(request.role)) throw new UsageError(`pane spawn: --role ${JSON.stringify(request.role)} must be 1–32 of A–Z a–z 0–9 _ - (it becomes the /rename name and the pane title)`);
  if (!AgentName.safeParse(request.agent).success) throw new UsageError(`pane spawn: --agent ${JSON.stringify(request.agent)} is not an agent kind or a command name`);
  const color = request.color ?? roleColor(request.role);
  if (!isPaneColor(color)) throw new UsageError(`pane spawn: --color ${JSON.stringify(color)} is not one of red, blue, green, yellow, purple, orange, pink, cyan`);
  const master = request.master ?? request.callerPane;
  if (!master) throw new UsageError('pane spawn: not inside tmux, so there is no current pane: pass --master %N (the coordinator pane) and --tmux-server S');
  if (!PANE_ID_PATTERN.test(master)) throw new UsageError(`pane spawn: --master ${JSON.stringify(master)} is not a pane id like %3`);
  if (request.window !== undefined && !PANE_ID_PATTERN.test(request.window) && !WINDOW_ID_PATTERN.test(request.window)) {
    throw new UsageError(`pane spawn: --window ${JSON.stringify(request.window)} is neither a pane id (%3) nor a window id (@1)`);
  }
  const { run: server, name: serverName } = request.server;
  const masterInfo = await paneInfo(server, master, context.tmux);
  if (!masterInfo) throw new MamError(`master pane ${master} does not exist on tmux server ${serverName}; list panes with \`tmux list-panes -a -F '#{pane_id}'\` (pane ids are per server: --tmux-server)`);
  const kind = agentKind(request.agent);
  // Only an agent reads what is typed: into anything else (a shell above all) the role prompt would be run, not read.
  if (!kind && request.prompt) {
    throw new UsageError(
      `pane spawn: --agent ${request.agent} is not an agent mam knows (${AGENT_KINDS.map((known) => known.id).join(', ')}), and the role prompt is typed into the pane as input — ` +
        `a shell would run the commands in it. Nothing was spawned. Pass --no-prompt to run ${request.agent} in a pane with nothing typed into it`,
    );
  }
  const launcher = launcherFor(request.agent);
  if (!which(launcher.command, context.env)) throw new MamError(`${launcher.command} not found on PATH; install it (or pass the agent's command with --agent); nothing was spawned`);

  const target = request.window ?? master;
  const cwd = request.cwd ?? masterInfo.cwd;
  const spawner = request.callerPane ?? master;
  const argv = [launcher.command, ...(launcher.launchArgs ?? []), ...request.agentArgs];
  const tmux = context.tmux;

  let paneId = '';
  let readyMs = 0;
  for (let attempt = 1; ; attempt += 1) {
    const splitAt = Date.now();
    paneId = await splitPane(server, { target, direction: request.split, cwd, argv, env: { MAM_REGISTRY: context.registryFile, MAM_PANE_ROLE: request.role, MAM_SPAWNER_PANE: spawner } }, tmux);
    const info = await paneInfo(server, paneId, tmux);
    await record(context, serverName, paneId, {
      role: request.role,
      agent: request.agent,
      status: 'spawning',
      session: info?.session ?? masterInfo.session,
      window_id: info?.windowId ?? masterInfo.windowId,
      spawner_pane: spawner,
      master_pane: master,
      color,
      workspace: cwd,
      task: request.task ?? null,
      start_command: joinWords(argv),
      session_id: null,
      report_back: false,
      task_done: false,
      created_at: isoSeconds(context.now()),
    });
    context.progress(`pane ${paneId} (${request.role}): waiting for ${launcher.command} to show its prompt (attempt ${attempt} of ${RETRY_TABLE.spawn.maxAttempts}, up to ${PANE_TIMEOUTS.ready / 1000} s each)`);
    const outcome = await watchReady({ server, target: paneId, tmux }, launcher);
    context.progress(undefined);
    readyMs = Date.now() - splitAt;
    const decision = decide(attempt, { operation: 'spawn', outcome: outcome.outcome });
    if (decision.action === 'done') break;
    // The pane is of no use: close it and its row, then either spawn again or report.
    await killPane(server, paneId, tmux);
    await record(context, serverName, paneId, { status: 'closed', closed_at: isoSeconds(context.now()), close_mode: 'kill-pane' });
    if (decision.action === 'fail') throw new MamError(`pane spawn: ${decision.reason}; run \`${joinWords(argv)}\` in ${cwd} by hand to see why. Last screen:\n${outcome.screen.trimEnd().split('\n').slice(-10).join('\n')}`);
    context.say(`pane ${paneId}: ${launcher.command} showed no prompt in time; spawning again (attempt ${attempt + 1})`);
  }
  const pane: DeliveryTarget = { server, target: paneId, tmux };
  // Nothing is typed into the pane (identity, role prompt) unless the agent itself is there, at its prompt.
  if (kind) await refuseUnlessAgent(context, pane, kind, { role: request.role, serverName, argv, cwd, withScreen: true });

  // Identity, sent by the spawner (never by the agent): each command its own send, each confirmed.
  const commands = identityCommands(request.agent, request.role, color as PaneColor);
  for (let attempt = 1; commands.length > 0; attempt += 1) {
    let missing: string | undefined;
    for (const { command, confirms } of commands) {
      context.progress(`pane ${paneId} (${request.role}): ${command}, waiting for ${launcher.command} to confirm`);
      const confirmed = await runSlashCommand(pane, command, confirms).finally(() => context.progress(undefined));
      if (!confirmed) {
        missing = command;
        break;
      }
    }
    const alive = (await paneInfo(server, paneId, tmux))?.dead === false;
    const decision = decide(attempt, { operation: 'identity', confirmed: missing === undefined, paneAlive: alive, missing });
    if (decision.action === 'done') break;
    if (decision.action === 'fail') throw new MamError(`pane ${paneId} (${request.role}): ${decision.reason}; the pane stays up and recorded as spawning — fix it by hand or \`mam pane kill --pane ${paneId} --force\``);
  }
  // Template steps 4 and 5 (docs/pane.md): no OSC-driven window renames; the border title names role and pane.
  const title = paneTitle(request.role, paneId);
  await tmuxMust(server, ['set-option', '-p', '-t', paneId, 'allow-rename', 'off'], tmux, `set allow-rename off on ${paneId}`);
  await tmuxMust(server, ['select-pane', '-t', paneId, '-T', title], tmux, `title pane ${paneId}`);

  let prompt: Receipt | undefined;
  if (request.prompt) {
    if (kind) await refuseUnlessAgent(context, pane, kind, { role: request.role, serverName, argv, cwd, withScreen: false });
    context.progress(`pane ${paneId} (${request.role}): delivering the role prompt`);
    const text = await rolePrompt({ role: request.role, pane: paneId, spawner, registry: context.registryFile, task: request.task, env: context.env });
    prompt = await deliverMessage(pane, { text, launcher, verify: true, token: `You are the ${request.role} agent` }).finally(() => context.progress(undefined));
    if (!prompt.ok) {
      await record(context, serverName, paneId, { last_delivery: `${prompt.stage} ${isoSeconds(context.now())}: ${prompt.detail}` });
      throw new MamError(`pane ${paneId} (${request.role}): the role prompt was not delivered: ${prompt.detail} (stage ${prompt.stage})`);
    }
  }

  // The master's window gets main-vertical with the master in front; a pane spawned into another window (--window)
  // has no master there, so that window is laid out with its own first pane as the main one.
  const spawnedIn = (await paneInfo(server, paneId, tmux))?.windowId;
  if (spawnedIn && spawnedIn !== masterInfo.windowId) await tmuxMust(server, ['select-layout', '-t', spawnedIn, 'main-vertical'], tmux, `lay out window ${spawnedIn}`);
  else await rebalance(server, master, tmux);
  const fields: PaneFields = {
    status: 'active',
    title,
    ...(prompt ? { last_delivery: `submitted ${isoSeconds(context.now())}: role prompt` } : {}),
  };
  await record(context, serverName, paneId, fields);
  return { paneId, fields: { pane_id: paneId, tmux_server: serverName, ...fields }, readyMs, prompt };
}

/**
 * Refuses, before anything is typed, a pane whose foreground process is not `kind` at its prompt (a shell, another
 * program): the pane is closed and its row marked closed, so nothing half-spawned is left, and the error says what
 * was there instead.
 */
async function refuseUnlessAgent(
  context: LifecycleContext,
  pane: DeliveryTarget,
  kind: AgentKind,
  spawned: { role: string; serverName: string; argv: readonly string[]; cwd: string; withScreen: boolean },
): Promise<void> {
  const info = await paneInfo(pane.server, pane.target, pane.tmux);
  if (!info || info.dead) return; // gone: the next send fails and says so; nothing can be typed into it
  const screen = spawned.withScreen ? ((await capturePaneById(pane.server, pane.target, false, pane.tmux)) ?? '') : undefined;
  const check = checkAgentInPane(kind, { paneCommand: info.command, process: foregroundProcess(info.pid), screen });
  if (check.ok) return;
  const last = screen ?? (await capturePaneById(pane.server, pane.target, false, pane.tmux)) ?? '';
  await killPane(pane.server, pane.target, pane.tmux);
  await record(context, spawned.serverName, pane.target, { status: 'closed', closed_at: isoSeconds(context.now()), close_mode: 'kill-pane' });
  throw new MamError(
    `pane spawn: ${check.reason}; nothing was typed into it, and pane ${pane.target} was closed. ` +
      `\`${joinWords(spawned.argv)}\` in ${spawned.cwd} must start ${kind.command} itself. Last screen:\n${last.trimEnd().split('\n').slice(-10).join('\n')}`,
  );
}

async function record(context: LifecycleContext, server: string, paneId: string, fields: PaneFields): Promise<void> {
  await updateRegistry(
    context.registryFile,
    (registry) => ({ changed: setPaneFields(registry.document, server, paneId, fields, fields.status === 'spawning'), result: undefined }),
    context.lock,
  );
}

/** Polls the new pane until the agent's prompt shows, it exits, or PANE_TIMEOUTS.ready passes. */
async function watchReady(pane: DeliveryTarget, launcher: ReturnType<typeof launcherFor>): Promise<{ outcome: 'ready' | 'exited' | 'timeout'; screen: string }> {
  let screen = '';
  let stableSince = Date.now();
  let outcome: 'ready' | 'exited' | 'timeout' = 'timeout';
  await waitFor(async () => {
    const info = await paneInfo(pane.server, pane.target, pane.tmux);
    if (!info || info.dead) {
      outcome = 'exited';
      return true;
    }
    const next = (await capturePaneById(pane.server, pane.target, false, pane.tmux)) ?? '';
    if (next !== screen) stableSince = Date.now();
    screen = next;
    if (startOutcome(launcher, screen, Date.now() - stableSince) === 'ready') outcome = 'ready';
    return outcome === 'ready';
  }, PANE_TIMEOUTS.ready, 100);
  return { outcome, screen };
}

export async function rolePrompt(input: { role: string; pane: string; spawner: string; registry: string; task: string | undefined; env: NodeJS.ProcessEnv }): Promise<string> {
  const template = await readFile(fileURLToPath(new URL('../../prompts/pane-role.md', import.meta.url)), 'utf8');
  const mam = mamCommand(input.env, fileURLToPath(new URL('../cli/main.js', import.meta.url)));
  return template
    .replaceAll('{{role}}', () => input.role)
    .replaceAll('{{pane}}', () => input.pane)
    .replaceAll('{{spawner}}', () => input.spawner)
    .replaceAll('{{registry}}', () => input.registry)
    .replaceAll('{{mam}}', () => mam)
    .replaceAll('{{task}}', () => input.task ?? 'wait for instructions from your spawner.')
    .trimEnd();
}
