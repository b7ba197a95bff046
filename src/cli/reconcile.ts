import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { registryPath } from '../config.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { runPass, type PassOptions, type PassReport } from '../reconcile/pass.js';
import { INFORMATIONAL_PROBLEMS } from '../reconcile/types.js';
import { buildPassOptions } from '../reconcile/pass-options.js';
import { parseFlags, positiveSeconds, untilStopped, writeLine, type CliContext, type Command } from './command.js';

const HELP = `Usage: mam reconcile [--once | --subscribe] [--json | --emit-diff] [--dry-run] [--verbose] [--interval SECONDS]
                     [--registry PATH] [--tmux-server NAME]...

Compare the session registry with live tmux and the agents' own files, and repair the registry:
  A  registered as running, tmux session gone      → status: terminated (termination_mode: auto-detected)
     (or its agent exited in a session mam started: exit_status and the last screen recorded, the session closed)
  B  <workspace>-creator-<agent> alive, unregistered → registered (last_visible_status: auto-registered)
  C  conversation appeared for an entry with no id   → its *_session_id_own recorded
  D  a recorded id's artifact is missing             → reported only; the id is kept
An entry created, stopped or resumed in the last 5 s is never flipped. Only real changes are written.

Ownership: every session mam starts or registers carries the tmux option @mam_registry = this registry's path.
B registers an unmarked creator session and marks it, and also any session (any name) marked with this registry
or with a registry whose file no longer exists (adopted, re-marked). A session another existing registry owns is
never registered. An entry left status: starting by a create/resume that died (or for over 2 min) is repaired:
running (B) if its tmux session is alive, else terminated (A).

Options:
  --once               one pass, then exit (default: a pass every --interval seconds until SIGINT/SIGTERM)
  --subscribe          push-driven until SIGINT/SIGTERM: a pass as soon as tmux reports a session created,
                       killed or renamed (one tmux -C control client per server, attached to a session of
                       its own, __monitor, which goes away with it) or the registry file changes, plus a
                       full pass every --interval seconds (±10 %). A server that is not running is never
                       started: it is polled until it appears, and the periodic pass covers the rest
  --json, --emit-diff  print one JSON object per pass on stdout (the two are the same):
                       {"at","registry","dry_run","written","drifts":[{"class","session","message",…}],"problems":[…]}
                       (docs/reconcile.md lists every key); problems are also warned about on stderr
  --dry-run            compute drifts, write nothing
  --verbose            also list sessions other registries own (problems of kind owned-elsewhere; they never
                       make --once exit 2)
  --interval SECONDS   time between passes in loop mode; with --subscribe, between full resyncs (default 30)
  --registry PATH      the registry (default $MAM_REGISTRY or ./.hermes/agent-sessions.yaml)
  --tmux-server NAME   a tmux -L socket to watch besides those the registry names; repeatable
                       (default $MAM_TMUX_SERVER, else the default server and mam's own)
  -h, --help           this text

Exit status (--once): 0 clean pass; 2 pass done but some entries or servers could not be judged
(see stderr / "problems"); 1 the registry cannot be used (nothing was written); 64 usage error.`;

export const reconcileCommand: Command = {
  help: HELP,
  async run(context) {
    const { values } = parseFlags('reconcile', context.argv, {
      once: { type: 'boolean' },
      'emit-diff': { type: 'boolean' },
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      verbose: { type: 'boolean' },
      subscribe: { type: 'boolean' },
      interval: { type: 'string' },
      registry: { type: 'string' },
      'tmux-server': { type: 'string', multiple: true },
    });
    if (values.subscribe && values.once) throw new UsageError('reconcile: --subscribe and --once cannot be combined; see `mam reconcile --help`');
    const intervalMs = positiveSeconds('reconcile', 'interval', values.interval, 30) * 1000;
    const options = buildPassOptions({
      registryFile: registryPath(values.registry, context.env, context.cwd),
      tmuxServers: values['tmux-server'],
      dryRun: values['dry-run'] ?? false,
      env: context.env,
      verbose: values.verbose ?? false,
    });
    // --json is the flag every command takes; --emit-diff, its older name here, stays as it was.
    const json = values.json === true || values['emit-diff'] === true;
    const emit = (report: PassReport): void => (json ? printJson(context, report) : printHuman(context, report));

    if (values.once) {
      const report = await runPass(options);
      emit(report);
      return report.problems.some((problem) => !INFORMATIONAL_PROBLEMS.has(problem.kind)) ? 2 : 0;
    }
    // In a loop, people want to hear about change, not "no drift" every 30 s; scripts get every pass.
    const emitChanges = (report: PassReport): void => {
      if (json || report.drifts.length > 0 || report.problems.length > 0) emit(report);
    };
    if (values.subscribe) return subscribed(context, options, intervalMs, emitChanges);
    return loop(context, options, intervalMs, emitChanges);
  },
};

async function subscribed(context: CliContext, options: PassOptions, resyncMs: number, emit: (report: PassReport) => void): Promise<number> {
  const { createLogger } = await import('../util/log.js');
  const { runSubscribed } = await import('../reconcile/subscribe.js');
  const { jobEventSource } = await import('../jobs/event-source.js');
  const log = createLogger(context.env, 'mam-reconcile');
  log.info({ registry: options.registryFile, resyncMs, dryRun: options.dryRun }, 'reconcile --subscribe started');
  let lastError: string | undefined;
  const summary = await untilStopped((signal) =>
    runSubscribed({
      passOptions: options,
      resyncMs,
      signal,
      log,
      sources: { jobs: jobEventSource(context.env, options.registryFile) },
      onReport: (report) => {
        if (lastError !== undefined) log.info('registry readable again');
        lastError = undefined;
        emit(report);
      },
      onError: (error, retryInMs) => {
        // A broken registry stops writes, not the loop: the user may be mid-edit. Say it once.
        const message = errorMessage(error);
        if (message !== lastError) log.error({ err: message, retryInMs }, 'pass failed; nothing written; retrying');
        lastError = message;
      },
    }),
  );
  log.info(summary, 'reconcile --subscribe stopped');
  return 0;
}

async function loop(context: CliContext, options: PassOptions, intervalMs: number, emit: (report: PassReport) => void): Promise<number> {
  // Loaded here, not at the top: a one-shot pass has nothing to log and should not pay for pino.
  const { createLogger } = await import('../util/log.js');
  const log = createLogger(context.env, 'mam-reconcile');
  log.info({ registry: options.registryFile, intervalMs, dryRun: options.dryRun }, 'reconcile loop started');
  let lastError: string | undefined;
  await untilStopped(async (signal) => {
    while (!signal.aborted) {
      try {
        const report = await runPass(options);
        emit(report);
        if (lastError !== undefined) log.info('registry readable again');
        lastError = undefined;
      } catch (error) {
        // A broken registry stops writes, not the loop: the user may be mid-edit. Say it once.
        const message = errorMessage(error);
        if (message !== lastError) log.error({ err: message }, 'pass failed; nothing written; retrying every interval');
        lastError = message;
      }
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  });
  log.info('reconcile loop stopped');
  return 0;
}

function printJson(context: CliContext, report: PassReport): void {
  writeLine(context.stdout, JSON.stringify(report));
  for (const problem of report.problems) writeLine(context.stderr, `mam: warning: ${problem.message}`);
}

function printHuman(context: CliContext, report: PassReport): void {
  if (!report.written && report.drifts.length === 0 && !existsSync(report.registry)) {
    writeLine(context.stdout, `no registry at ${report.registry} yet: nothing is registered`);
    for (const problem of report.problems) writeLine(context.stderr, `mam: warning: ${problem.message}`);
    return;
  }
  for (const drift of report.drifts) writeLine(context.stdout, `${drift.class}  ${drift.message}`);
  for (const problem of report.problems) writeLine(context.stderr, `mam: warning: ${problem.message}`);
  const count = report.drifts.length;
  const what = count === 0 ? 'no drift' : `${count} drift${count === 1 ? '' : 's'}`;
  const outcome = report.dry_run ? `dry run, nothing written to ${report.registry}` : report.written ? `registry updated: ${report.registry}` : `registry unchanged: ${report.registry}`;
  writeLine(context.stdout, `${what}; ${outcome}`);
}
