import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { registryPath } from '../config.js';
import { MamError, UsageError } from '../util/errors.js';
import { parseDuration } from '../kanban/settings.js';
import { parseFlags, writeLine, type CliContext } from './command.js';

const TEMPLATE = fileURLToPath(new URL('../../prompts/monitor-card.md', import.meta.url));

/**
 * `mam monitor dispatch`: the `hermes kanban create --goal …` command that starts a monitor card (the original
 * dispatch command of docs/monitor.md, for `mam`). Printed by default, so a person sees exactly what will run;
 * `--run` runs it and prints the new card id.
 */
export async function dispatch(context: CliContext): Promise<number> {
  const { values } = parseFlags('monitor dispatch', context.argv, {
    run: { type: 'boolean' },
    assignee: { type: 'string' },
    title: { type: 'string' },
    registry: { type: 'string' },
    interval: { type: 'string' },
    heartbeat: { type: 'string' },
    'goal-max-turns': { type: 'string' },
    'max-runtime': { type: 'string' },
    'max-retries': { type: 'string' },
    json: { type: 'boolean' },
  });
  const turns = values['goal-max-turns'] ?? '100';
  if (!/^[1-9]\d*$/.test(turns)) throw new UsageError(`monitor dispatch: --goal-max-turns takes a positive whole number, not ${JSON.stringify(turns)}`);
  const maxRuntime = values['max-runtime'] ?? '8h';
  if (!/^\d+[smhd]?$/.test(maxRuntime)) throw new UsageError(`monitor dispatch: --max-runtime takes 300, 90s, 30m, 2h or 1d, not ${JSON.stringify(maxRuntime)}`);
  for (const [flag, value] of [['interval', values.interval], ['heartbeat', values.heartbeat]] as const) {
    if (value !== undefined && parseDuration(value) === undefined) throw new UsageError(`monitor dispatch: --${flag} takes a duration (30s, 5m), not ${JSON.stringify(value)}`);
  }

  const body = (await readFile(TEMPLATE, 'utf8'))
    .replaceAll('{{registry}}', registryPath(values.registry, context.env, context.cwd))
    .replaceAll('{{interval}}', values.interval ?? '30s')
    .replaceAll('{{heartbeat}}', values.heartbeat ?? '5m');
  const args = [
    'kanban', 'create', values.title ?? 'agent-sessions monitor (live reconcile)',
    // `default` (the root profile) is always spawnable, as in the original dispatch command; the skill makes the card
    // the monitor's under HERMES_BIN=mam, and tells an LLM worker the one command to run.
    '--assignee', values.assignee ?? 'default',
    '--goal', '--goal-max-turns', turns,
    '--max-runtime', maxRuntime,
    '--max-retries', values['max-retries'] ?? '1',
    '--skill', 'agent-sessions-monitor',
    '--body', body,
  ];
  const hermes = context.env['MAM_HERMES_BIN'] || 'hermes';
  if (!values.run) {
    writeLine(context.stdout, values.json ? JSON.stringify({ argv: [hermes, ...args] }) : [hermes, ...args].map(shellQuote).join(' '));
    return 0;
  }
  const result = await execa(hermes, [...args, '--json'], { env: context.env, extendEnv: false, reject: false, timeout: 60_000 });
  if (result.exitCode !== 0) throw new MamError(`hermes kanban create failed (exit ${result.exitCode ?? 'none'}): ${String(result.stderr).trim() || result.shortMessage}`);
  const created = JSON.parse(String(result.stdout)) as { id: string; status: string; assignee: string };
  writeLine(context.stdout, values.json ? JSON.stringify({ id: created.id, status: created.status, assignee: created.assignee }) : `Created ${created.id}  (${created.status}, assignee=${created.assignee})`);
  return 0;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

