import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { mam, REPO, Sandbox, type MamResult } from '../helpers/sandbox.js';

/**
 * What every command has in common, through the built CLI: a session named as a word or with --session, --json
 * where a command prints data, a help page per subcommand, help text with nothing internal in it, and the exit
 * codes `mam --help` lists (and docs/environment.md with it).
 */
let box: Sandbox;
let server: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-surface-');
  server = box.serverName('surface');
});

afterEach(async () => {
  await box.dispose();
});

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => box.env({ MAM_TMUX_SERVER: server, MAM_REGISTRY: box.registry, ...extra });
const run = (...args: string[]): Promise<MamResult> => mam(args, env());

function entryOf(name: string): RegistryEntry | undefined {
  if (!existsSync(box.registry)) return undefined;
  return parseRegistry(box.registry, readFileSync(box.registry, 'utf8')).entries.find((entry) => entry.name === name);
}

/** A session running `cat`, which ends on Ctrl-C: the exit keys of a command mam knows nothing about. */
async function create(name: string): Promise<void> {
  const ws = path.join(box.root, 'work', name.replace(/^-+/, 'dash'));
  await mkdir(ws, { recursive: true });
  const created = await run('create', '--agent', 'cat', '--workspace', ws, `--name=${name}`);
  expect(created.code, created.stderr).toBe(0);
}

describe('a session named as a word', () => {
  it('stop, resume and delete take NAME as a word or as --session; twice, differently, or not at all is a usage error', async () => {
    await create('alpha');
    const twice = await run('stop', 'alpha', '--session', 'beta');
    expect(twice.code).toBe(64);
    expect(twice.stderr.trim()).toBe('mam: stop: NAME given twice, as "alpha" and as --session "beta"; give it once');
    const none = await run('stop');
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('stop: NAME is required');
    const two = await run('resume', 'alpha', 'beta');
    expect(two.code).toBe(64);
    expect(two.stderr).toContain('resume: one NAME, not 2 ("alpha", "beta")');
    expect(entryOf('alpha')?.status, 'nothing was done by the refused commands').toBe('running');

    const stopped = await run('stop', 'alpha');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout.trim()).toBe('stopped alpha (exit-keys)');
    // The same name both ways is one name.
    const resumed = await run('resume', 'alpha', '--session', 'alpha');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(entryOf('alpha')?.status).toBe('running');
    expect((await run('stop', '--session', 'alpha')).code).toBe(0);

    const deleted = await run('delete', 'alpha', '--json');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({
      deleted: 'alpha',
      history: path.join(path.dirname(box.registry), 'agent-sessions.history.jsonl'),
      record: expect.objectContaining({ action: 'delete', entry: expect.objectContaining({ name: 'alpha', status: 'stopped' }) }),
    });
    expect(entryOf('alpha')).toBeUndefined();
  });

  it('a NAME that starts with "-" goes after --; without it, the error says so; --session -x keeps its own hint', async () => {
    await create('-x');
    const bare = await run('stop', '-x');
    expect(bare.code).toBe(64);
    expect(bare.stderr.trim()).toBe('mam: stop: Unknown option \'-x\'; a name that starts with "-" goes after --: `mam stop -- -x`; see `mam stop --help`');
    const flag = await run('stop', '--session', '-x');
    expect(flag.code).toBe(64);
    expect(flag.stderr).toContain('pass it as --session=-x');
    expect(entryOf('-x')?.status).toBe('running');

    const stopped = await run('stop', '--', '-x');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(entryOf('-x')?.status).toBe('stopped');
    // After --, --help is a name, not a request for help.
    const named = await run('delete', '--', '--help');
    expect(named.code).toBe(1);
    expect(named.stderr).toContain('--help is not in the registry');
    expect((await run('delete', '--json', '--', '-x')).code).toBe(0);
    expect(entryOf('-x')).toBeUndefined();
  });

  it('a command that takes no name refuses a stray word', async () => {
    const result = await run('prune', 'old');
    expect(result.code).toBe(64);
    expect(result.stderr.trim()).toBe('mam: prune: unexpected argument "old" (this command takes only options); see `mam prune --help`');
  });
});

describe('mam job: a job id as a word, and --json', () => {
  it('event, status, wait, verify and logs take ID as a word; --json prints one object', async () => {
    const workdir = path.join(box.root, 'work');
    await mkdir(workdir, { recursive: true });
    const jobsDir = path.join(workdir, '.mam', 'jobs');
    // No broker at all: events are recorded in the job file and not published (exit 2), and nothing is started.
    const jobEnv = env({ MAM_MQTT_URL: 'mqtt://127.0.0.1:1' });
    const job = (...args: string[]): Promise<MamResult> => mam(['job', ...args, '--registry-dir', jobsDir], jobEnv, workdir);

    const dry = await job('submit', '--agent', 'cat', '--prompt', 'tidy up', '--workdir', workdir, '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const submitted = JSON.parse(dry.stdout) as { job_id: string; dry_run: boolean; instruction: string; logs_dir: string };
    expect(submitted).toMatchObject({ job_id: expect.stringMatching(/^j_[0-9a-f]{24}$/), dry_run: true, instruction: expect.stringContaining('tidy up') });
    const id = submitted.job_id;

    const started = await job('event', id, '--event', 'started', '--json');
    expect(started.code).toBe(2);
    expect(JSON.parse(started.stdout)).toEqual({ job_id: id, event: 'started', seq: 2, status: 'running', published: false, publish_error: expect.any(String) });
    expect(started.stderr).toContain('recorded in the job file, but not published');

    const waiting = await job('wait', id, '--timeout', '0.2', '--json');
    expect(waiting.code).toBe(3);
    expect(JSON.parse(waiting.stdout)).toMatchObject({ finished: false, jobs: [{ job_id: id, status: 'running' }] });
    expect(waiting.stderr).not.toMatch(/[\r\x1b]/);

    expect((await job('event', '--job', id, '--event', 'completed')).code).toBe(2);
    const done = await job('wait', id, '--json');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ finished: true, jobs: [{ job_id: id, status: 'completed' }] });

    expect(JSON.parse((await job('status', id, '--json')).stdout)).toMatchObject({ job_id: id, status: 'completed' });
    const check = path.join(workdir, 'check.sh');
    await writeFile(check, 'echo "checked $JOB_ID"\n');
    const verified = await job('verify', id, '--validate', check, '--json');
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toEqual({ job_id: id, passed: true });
    expect(verified.stderr).toContain('validation: PASS');

    const logs = JSON.parse((await job('logs', id, '--json')).stdout) as { job_id: string; logs_dir: string; files: Record<string, string> };
    expect(logs).toMatchObject({ job_id: id, logs_dir: submitted.logs_dir });
    expect(logs.files['instruction.txt']).toContain('tidy up');
    expect(logs.files['validation.txt']).toContain(`checked ${id}`);
    expect(JSON.parse((await job('logs', '--list', '--json')).stdout)).toEqual([submitted.logs_dir]);

    const missing = await job('status');
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain('job status: ID is required');
    const twice = await job('status', id, '--job', 'j_000000000000000000000000');
    expect(twice.code).toBe(64);
    expect(twice.stderr).toContain('ID given twice');
  });
});

describe('--json where a command prints data', () => {
  it('reconcile --json prints the --emit-diff object', async () => {
    await create('seen');
    const json = await run('reconcile', '--once', '--json', '--dry-run');
    const diff = await run('reconcile', '--once', '--emit-diff', '--dry-run');
    expect(json.code, json.stderr).toBe(0);
    const strip = (result: MamResult): Record<string, unknown> => {
      const { at, ...rest } = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(at).toEqual(expect.any(String));
      return rest;
    };
    expect(strip(json)).toEqual(strip(diff));
    expect(Object.keys(JSON.parse(json.stdout) as object).sort()).toEqual(['at', 'drifts', 'dry_run', 'problems', 'registry', 'written']);
  });

  it('monitor dispatch --json prints the command as words', async () => {
    const result = await run('monitor', 'dispatch', '--json', '--registry', box.registry);
    expect(result.code, result.stderr).toBe(0);
    const { argv } = JSON.parse(result.stdout) as { argv: string[] };
    expect(argv.slice(0, 3)).toEqual(['hermes', 'kanban', 'create']);
    expect(argv).toEqual(expect.arrayContaining(['--skill', 'agent-sessions-monitor', '--assignee', 'default']));
    expect(argv[argv.indexOf('--body') + 1]).toContain(box.registry);
  });
});

describe('help', () => {
  const SUBCOMMANDS = {
    job: ['submit', 'event', 'status', 'list', 'wait', 'verify', 'logs'],
    pane: ['spawn', 'send', 'kill', 'rebalance', 'register'],
    monitor: ['lane', 'dispatch'],
  } as const;

  it('every subcommand has its own page (mam <command> <subcommand> --help), and no page names anything internal', async () => {
    const top = await run('--help');
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2}/gm)].map((match) => match[1]!);
    expect(commands).toEqual(expect.arrayContaining(['stop', 'job', 'pane', 'monitor', 'reconcile']));
    const pages = [top.stdout];
    for (const command of commands) {
      const page = await run(command, '--help');
      expect(page.code, command).toBe(0);
      expect(page.stdout, command).toMatch(new RegExp(`^Usage: mam ${command}\\b`));
      pages.push(page.stdout);
    }
    for (const [command, subs] of Object.entries(SUBCOMMANDS)) {
      const parent = pages[commands.indexOf(command) + 1];
      for (const sub of subs) {
        const page = await run(command, sub, '--help');
        expect(page.code, `${command} ${sub}`).toBe(0);
        expect(page.stdout, `${command} ${sub}`).toMatch(new RegExp(`^Usage: mam ${command} ${sub}\\b`));
        expect(page.stdout).not.toBe(parent);
        pages.push(page.stdout);
      }
    }
    // -h too, and among the subcommand's own words after other flags.
    expect((await run('pane', 'spawn', '--role', 'dev', '-h')).stdout).toMatch(/^Usage: mam pane spawn/);
    for (const page of pages) expect(page).not.toMatch(/\bseed\b|\bissue\b|\b00\d\b|shared\/|DESIGN\.md/i);
  });

  it('mam --help lists the exit codes, and docs/environment.md lists the same ones', async () => {
    const top = (await run('--help')).stdout;
    const section = top.slice(top.indexOf('Exit codes:'));
    const codes = [...section.matchAll(/^ {2}(\d+(?:\/\d+)?) /gm)].map((match) => match[1]!);
    expect(codes).toEqual(['0', '1', '2', '3', '64', '75', '130/143']);
    const docs = readFileSync(path.join(REPO, 'docs', 'environment.md'), 'utf8');
    const documented = [...docs.slice(docs.indexOf('## Exit codes')).matchAll(/^\| `([\d/]+)` \|/gm)].map((match) => match[1]!);
    expect(documented).toEqual(codes);
  });
});
