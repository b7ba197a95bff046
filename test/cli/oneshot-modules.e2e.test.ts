import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createJob } from '../../src/jobs/service.js';
import { MAM, REPO, Sandbox } from '../helpers/sandbox.js';
import { untilValue } from '../helpers/until.js';

const run = promisify(execFile);

/**
 * What keeps one-shot commands fast (docs/development.md), checked by what they load rather than by a clock: `mam`
 * runs from the bundle (scripts/bundle-cli.mjs), and `mam status` loads none of the modules only other commands use.
 * A module-loader hook in the child writes every file it loads to a list.
 */
let box: Sandbox;
let list: string;
let hook: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-oneshot-');
  list = path.join(box.root, 'loaded.txt');
  hook = path.join(box.root, 'hook.mjs');
  const register = path.join(box.root, 'register.mjs');
  await writeFile(hook, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); }\n`);
  await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${hook}`).href)});\n`);
});
afterEach(async () => {
  await box.dispose();
});

async function loadedBy(args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; loaded: string[] }> {
  await writeFile(list, '');
  const { stdout } = await run(process.execPath, ['--import', path.join(box.root, 'register.mjs'), MAM, ...args], { env: box.env({ MAM_REGISTRY: box.registry, ...extra }), cwd: REPO });
  return { stdout, loaded: (await readFile(list, 'utf8')).split('\n').filter(Boolean) };
}

/** The files among `loaded` whose bundled code includes `pkg` (esbuild marks each bundled module with a `// path` line). */
async function bundling(loaded: readonly string[], pkg: string): Promise<string[]> {
  const marker = new RegExp(`^// .*node_modules/${pkg}/`, 'm');
  const files = loaded.filter((url) => url.startsWith('file:')).map((url) => new URL(url).pathname);
  const found = await Promise.all(files.map(async (file) => (marker.test(await readFile(file, 'utf8')) ? file : undefined)));
  return found.filter((file) => file !== undefined);
}

/** The packages the bundle holds that only other commands use: MQTT and logging. */
const OTHER_PACKAGES = ['mqtt', 'aedes', 'aedes-persistence', 'pino', 'pino-pretty'];

/** Those of OTHER_PACKAGES that some file among `loaded` bundles, each with the files. */
async function otherPackages(loaded: readonly string[]): Promise<Record<string, string[]>> {
  const found = await Promise.all(OTHER_PACKAGES.map(async (pkg) => [pkg, await bundling(loaded, pkg)] as const));
  return Object.fromEntries(found.filter(([, files]) => files.length > 0));
}

/** Packages and command modules only other commands load: MQTT, logging, `mam ui`, the monitor, the broker, the watcher. */
const OTHER_COMMANDS = /\/node_modules\/(?:mqtt|aedes|aedes-persistence|pino|pino-pretty|react|ink)\/|\/dist\/ui\/|\/dist\/bundle\/(?:ui|app|monitor|broker|watch|mqtt|connection|subscribe|log)-[A-Z0-9]{8}\.js$/;

describe('one-shot commands load only what they use', () => {
  it('mam status --json runs from the bundle and loads no MQTT, logging, UI or watcher module', async () => {
    const server = box.serverName('oneshot');
    const workspace = path.join(box.root, 'ws');
    await mkdir(workspace, { recursive: true });
    await box.startSession(server, 'o-creator-claude', workspace);
    await box.writeRegistry(`tmux_sessions:\n  - {name: o-creator-claude, agent: claude, workspace: ${workspace}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z}\n  - {name: gone-creator-claude, agent: claude, workspace: ${workspace}, status: terminated, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, terminated_at: 2026-01-02T00:00:00Z}\n`);

    const { stdout, loaded } = await loadedBy(['status', '--json']);
    const report = JSON.parse(stdout) as { sessions: { name: string; tmux: string }[] };
    expect(report.sessions.map((row) => [row.name, row.tmux])).toEqual([
      ['o-creator-claude', 'alive'],
      ['gone-creator-claude', 'gone'],
    ]);
    expect(loaded.some((url) => url.endsWith('/dist/bundle/mam.js'))).toBe(true);
    // Only the bundle's files besides the entry point: no module of dist/ loaded file by file, no package from node_modules.
    expect(loaded.filter((url) => url.startsWith('file:') && !url.includes('/dist/bundle/') && !url.endsWith('/dist/cli/main.js') && url !== `file://${hook}`)).toEqual([]);
    expect(loaded.filter((url) => OTHER_COMMANDS.test(url))).toEqual([]);
    expect(await otherPackages(loaded)).toEqual({});
    // The first call parsed the registry (YAML and zod) and cached the parse; from the next call on, while the file is
    // unchanged and no session has a job, neither parser nor validator is loaded.
    const again = await loadedBy(['status', '--json']);
    expect((JSON.parse(again.stdout) as typeof report).sessions.map((row) => [row.name, row.tmux])).toEqual(report.sessions.map((row) => [row.name, row.tmux]));
    expect(await bundling(again.loaded, 'zod')).toEqual([]);
    expect(await bundling(again.loaded, 'yaml')).toEqual([]);
  });

  it('mam status --json loads the job store when a session has a job, and shows its status', async () => {
    const workspace = path.join(box.root, 'ws');
    const jobsDir = path.join(box.root, 'jobs');
    await mkdir(workspace, { recursive: true });
    const job = await createJob(
      { dir: jobsDir, logsRoot: path.join(box.root, 'logs'), env: box.env(), now: Date.now, lock: { timeoutMs: 10_000 }, transport: async () => undefined },
      { agent: 'claude', prompt: 'p', workdir: workspace, agentSession: 'j-creator-claude', timeoutS: 3600, idleTimeoutS: 120, validate: null },
    );
    await box.writeRegistry(`tmux_sessions:\n  - {name: j-creator-claude, agent: claude, workspace: ${workspace}, status: terminated, tmux_server: ${box.serverName('jobs')}, delegate_job_id: ${job.job_id}, delegate_job_registry: ${jobsDir}, created_at: 2026-01-01T00:00:00Z, terminated_at: 2026-01-02T00:00:00Z}\n  - {name: k-creator-claude, agent: claude, workspace: ${workspace}, status: terminated, delegate_job_id: j_000000000000000000000000, delegate_job_registry: ${jobsDir}, created_at: 2026-01-01T00:00:00Z, terminated_at: 2026-01-02T00:00:00Z}\n`);

    const { stdout, loaded } = await loadedBy(['status', '--json']);
    const report = JSON.parse(stdout) as { sessions: { name: string; job: { id: string; status: string } | null }[] };
    expect(report.sessions.map((row) => [row.name, row.job])).toEqual([
      ['j-creator-claude', { id: job.job_id, status: 'pending' }],
      ['k-creator-claude', { id: 'j_000000000000000000000000', status: 'unknown' }],
    ]);
    expect(await bundling(loaded, 'zod')).not.toEqual([]);
  });

  it('mam job event, answered by the job daemon, loads no zod, MQTT or job store', async () => {
    const jobsDir = path.join(box.root, 'jobs');
    const job = await createJob(
      { dir: jobsDir, logsRoot: path.join(box.root, 'logs'), env: box.env(), now: Date.now, lock: { timeoutMs: 10_000 }, transport: async () => undefined },
      { agent: 'claude', prompt: 'p', workdir: box.root, agentSession: null, timeoutS: 3600, idleTimeoutS: 120, validate: null },
    );
    const daemon = { MAM_JOB_DAEMON: '1', MAM_JOB_DAEMON_TIMEOUT: '120' };
    // The first call finds no daemon: it records its event itself and starts one, which answers the next. It
    // publishes through MQTT, bundled: no package file of its own is loaded from node_modules.
    const first = await loadedBy(['job', 'event', job.job_id, '--event', 'started', '--json', '--registry-dir', jobsDir], daemon);
    expect(JSON.parse(first.stdout)).toMatchObject({ seq: 2, published: true });
    expect(first.loaded.filter((url) => url.includes('/node_modules/'))).toEqual([]);
    expect(Object.keys(await otherPackages(first.loaded))).toContain('mqtt');
    const socket = await untilValue(async () => (await readdir(path.join(box.root, 'cache', 'mam', 'jobd')).catch(() => [] as string[])).find((name) => name.endsWith('.sock')), 'the job daemon to listen', 60_000);
    expect(socket).toMatch(/^jobd-[0-9a-f]{12}\.sock$/);
    const { stdout, loaded } = await loadedBy(['job', 'event', job.job_id, '--event', 'progress', '--json', '--registry-dir', jobsDir], daemon);
    expect(JSON.parse(stdout)).toMatchObject({ seq: 3, published: true });
    expect(await bundling(loaded, 'zod')).toEqual([]);
    expect(loaded.filter((url) => /\/node_modules\/(?:mqtt|aedes|pino)\//.test(url) || /\/dist\/bundle\/(?:job-commands|service|store|mqtt)-[A-Z0-9]{8}\.js$/.test(url))).toEqual([]);
    expect(await otherPackages(loaded)).toEqual({});
  });

  it('mam status (the table) loads none of them either', async () => {
    await box.writeRegistry('tmux_sessions: []\n');
    await loadedBy(['status']);
    const { stdout, loaded } = await loadedBy(['status']);
    expect(stdout).toMatch(/^registry: /);
    expect(loaded.filter((url) => OTHER_COMMANDS.test(url))).toEqual([]);
    expect(await otherPackages(loaded)).toEqual({});
    expect(await bundling(loaded, 'zod')).toEqual([]);
  });
});
