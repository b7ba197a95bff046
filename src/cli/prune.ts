import { lockTimeoutMs, registryPath } from '../config.js';
import { UsageError } from '../util/errors.js';
import { parseDuration } from '../kanban/settings.js';
import { DEFAULT_RETENTION_MS, pruneRegistry } from '../lifecycle/prune.js';
import { parseFlags, writeLine, type Command } from './command.js';

export const pruneCommand: Command = {
  help: `Usage: mam prune [--older-than 7d] [--dry-run] [--json] [--registry PATH]

Move ended sessions out of the registry into <registry>.history.jsonl beside it (one JSON line each, as delete
writes them, with "action": "prune"), so a registry kept for weeks stays the size of what is live. Pruned: entries
with status: terminated, and status: stopped with resumable: false, whose terminated_at / stopped_at is older than
--older-than (default 7d; 30s, 12h, 7d, …). Running, starting and resumable stopped sessions are never pruned, nor
an entry whose end time cannot be read. Done under the registry lock; the rest of the file keeps its comments and
order. --dry-run lists what would go and writes nothing. The monitor runs this once a day (retention: on its card,
--retention on its command line).`,
  async run(context) {
    const { values } = parseFlags('prune', context.argv, {
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      registry: { type: 'string' },
    });
    const olderThan = values['older-than'];
    const olderThanMs = olderThan === undefined ? DEFAULT_RETENTION_MS : parseDuration(olderThan);
    if (olderThanMs === undefined || olderThanMs <= 0) throw new UsageError(`prune: --older-than takes a duration such as 7d, 12h or 30s, not ${JSON.stringify(olderThan)}`);
    const report = await pruneRegistry({
      registryFile: registryPath(values.registry, context.env, context.cwd),
      olderThanMs,
      dryRun: values['dry-run'] ?? false,
      now: Date.now,
      lock: { timeoutMs: lockTimeoutMs(context.env) },
    });
    if (values.json) {
      writeLine(context.stdout, JSON.stringify(report));
      return 0;
    }
    const verb = report.dry_run ? 'would prune' : 'pruned';
    for (const row of report.pruned) writeLine(context.stdout, `${verb} ${row.name} (${row.status} since ${row.ended_at})`);
    writeLine(
      context.stdout,
      report.pruned.length === 0
        ? `nothing to prune in ${report.registry} (older than ${olderThan ?? '7d'}); ${report.kept} entries kept`
        : `${verb} ${report.pruned.length} ended session${report.pruned.length === 1 ? '' : 's'} ${report.dry_run ? 'from' : 'into'} ${report.dry_run ? report.registry : report.history}; ${report.kept} entries kept`,
    );
    return 0;
  },
};
