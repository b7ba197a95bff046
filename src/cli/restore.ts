import readline from 'node:readline';
import { parseDuration } from '../kanban/settings.js';
import { lifecycleContext } from '../lifecycle/context.js';
import { DEFAULT_PARALLEL, DEFAULT_STAGGER_MS, describePlanItem, restoreSessions, type RestorePlanItem, type RestoreReport } from '../lifecycle/restore.js';
import { MamError, UsageError } from '../util/errors.js';
import { liveProgress, parseFlags, writeLine, type Command } from './command.js';

/** `mam restore`: sessions lost with their tmux server (a reboot, a crash) started again. The work is in lifecycle/restore.ts. */
export const restoreCommand: Command = {
  help: `Usage: mam restore [NAME…] [--dry-run] [--yes] [--parallel N] [--stagger DURATION] [--fresh-if-missing]
                   [--registry PATH] [--json]

After a reboot or a tmux server crash: start again every session that was running when its tmux server went away
(each entry records the host's boot id and its tmux server's pid and start time, so a reboot or a crash is told
apart from a session someone stopped), in its recorded conversation, with its stored argv, environment and working
directory. It lists what would start first; --dry-run stops there and changes nothing. On a terminal it then asks
before it starts anything; --yes starts without asking (scripts); off a terminal without --yes it refuses.
At most --parallel sessions (default ${DEFAULT_PARALLEL}) start at a time, each start at least --stagger (default
${DEFAULT_STAGGER_MS / 1000}s; 500ms, 2s, 1m) after the one before, and a slot frees when its agent shows its prompt.
A conversation whose files are gone is reported and not started, unless --fresh-if-missing (then it starts fresh).
NAME… restores only those. Exit 0 when every listed session was restored (or nothing was lost), 2 when some
could not be (missing conversation, failed start), 1 when the start was declined.`,
  async run(context) {
    const { values, positionals } = parseFlags(
      'restore',
      context.argv,
      {
        'dry-run': { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        parallel: { type: 'string' },
        stagger: { type: 'string' },
        'fresh-if-missing': { type: 'boolean' },
        registry: { type: 'string' },
        json: { type: 'boolean' },
      },
      { positionals: true },
    );
    const parallel = values.parallel === undefined ? DEFAULT_PARALLEL : Number(values.parallel);
    if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`restore: --parallel takes a whole number of at least 1, not ${JSON.stringify(values.parallel)}`);
    const staggerMs = values.stagger === undefined ? DEFAULT_STAGGER_MS : parseDuration(values.stagger);
    if (staggerMs === undefined) throw new UsageError(`restore: --stagger takes a duration such as 2s, 500ms or 0, not ${JSON.stringify(values.stagger)}`);
    const json = values.json ?? false;
    const live = liveProgress(context);
    const lifecycle = lifecycleContext({ registry: values.registry, env: context.env, cwd: context.cwd, say: live.say, progress: live.progress });
    let started = 0;
    const starting = new Set<string>();
    let report: RestoreReport;
    try {
      report = await restoreSessions(lifecycle, {
        dryRun: values['dry-run'] ?? false,
        parallel,
        staggerMs,
        freshIfMissing: values['fresh-if-missing'] ?? false,
        sessions: positionals,
        confirm: async (plan) => {
          const count = plan.filter((item) => item.action !== 'skip').length;
          if (values.yes) return true;
          if (!process.stdin.isTTY) {
            throw new UsageError(
              `restore: ${count} session${count === 1 ? '' : 's'} would start (${plan.map((item) => item.session).join(', ')}); nothing was asked because stdin is not a terminal: ` +
                'pass --yes to start them, or --dry-run to see what would start',
            );
          }
          if (!json) printPlan(live.print, plan);
          return ask(context.stderr, `Start ${count} session${count === 1 ? '' : 's'}? [y/N] `);
        },
        onResult: (event) => {
          if ('phase' in event) {
            starting.add(event.session);
            started += 1;
          } else {
            starting.delete(event.session);
            live.say(`${event.session}: ${event.outcome}: ${event.message}`);
          }
          live.progress(starting.size === 0 ? undefined : `restoring: ${started} started, waiting for the prompt of ${[...starting].join(', ')}`);
        },
      });
    } finally {
      live.done();
    }
    if (json) writeLine(context.stdout, JSON.stringify(report));
    else printReport((line) => writeLine(context.stdout, line), report);
    if (!report.dry_run && !report.confirmed) throw new MamError('restore: not confirmed; nothing was started');
    return report.results.every((result) => result.outcome === 'restored') ? 0 : 2;
  },
};

function printPlan(print: (line: string) => void, plan: readonly RestorePlanItem[]): void {
  for (const item of plan) print(describePlanItem(item));
}

function printReport(print: (line: string) => void, report: RestoreReport): void {
  if (report.plan.length === 0) {
    print(`nothing to restore: no session in ${report.registry} went with its tmux server`);
    return;
  }
  if (report.dry_run) {
    printPlan(print, report.plan);
    const count = report.plan.filter((item) => item.action !== 'skip').length;
    print(`would start ${count} of ${report.plan.length} lost session${report.plan.length === 1 ? '' : 's'} (dry run: nothing was changed)`);
    return;
  }
  if (!report.confirmed) return;
  for (const result of report.results) print(`${result.outcome} ${result.session}: ${result.message}`);
  const restored = report.results.filter((result) => result.outcome === 'restored').length;
  print(`restored ${restored} of ${report.results.length} lost session${report.results.length === 1 ? '' : 's'}`);
}

/** One line from the terminal: yes only for y or yes. */
function ask(stderr: NodeJS.WritableStream, question: string): Promise<boolean> {
  const lines = readline.createInterface({ input: process.stdin, output: stderr, terminal: false });
  return new Promise((resolve) => {
    let answered = false;
    lines.question(question, (answer) => {
      answered = true;
      lines.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    });
    lines.once('close', () => {
      if (!answered) resolve(false);
    });
  });
}
