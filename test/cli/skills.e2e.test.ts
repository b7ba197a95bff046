import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mam, MAM, REPO, Sandbox } from '../helpers/sandbox.js';

const run = promisify(execFile);
const STANDIN = path.join(REPO, 'test', 'hermes', 'hermes');

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create();
});
afterEach(async () => {
  await box.dispose();
});

async function skillFiles(): Promise<string[]> {
  const skills = path.join(REPO, 'skills');
  const names = (await readdir(skills, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  return names.map((name) => path.join(skills, name, 'SKILL.md'));
}

/** Every `mam …` line inside a fenced bash block of a SKILL.md. */
function fencedCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/```bash\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) if (/^mam\s/.test(line.trim())) commands.push(line.trim());
  }
  return commands;
}

describe('shipped skills', () => {
  it('have the Hermes frontmatter: name = folder, description ≤ 1024 characters, the fields the replaced skills had', async () => {
    const files = await skillFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      const front = /^---\n([\s\S]*?)\n---\n/.exec(text);
      expect(front, file).not.toBeNull();
      const meta = parseYaml(front![1]!) as Record<string, unknown>;
      expect(meta['name']).toBe(path.basename(path.dirname(file)));
      expect(String(meta['description']).length).toBeLessThanOrEqual(1024);
      for (const field of ['version', 'author', 'license', 'platforms', 'environments', 'metadata']) expect(meta, `${file} ${field}`).toHaveProperty(field);
      // The stop skill replaces tmux-agent-orchestrate-stop (docs/development.md) and keeps that name findable.
      if (meta['name'] === 'multi-agent-stop') expect(String(meta['description'])).toContain('tmux-agent-orchestrate-stop');
    }
  });

  it('every mam command in a skill runs as written', async () => {
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'mam'), `#!/bin/sh\nexec "${process.execPath}" "${MAM}" "$@"\n`);
    await chmod(path.join(bin, 'mam'), 0o755);
    // A stand-in `claude` for the skills' examples: Claude's idle hint (what `mam` waits for), an echo of each line
    // typed into it (so `--submit-job` sees its prompt submitted), and an exit on `/exit` (the stop ladder's first rung).
    await writeFile(
      path.join(bin, 'claude'),
      `#!/bin/sh\nprintf '? for shortcuts\\n'\nwhile IFS= read -r line; do\n  [ "$line" = /exit ] && exit 0\n  printf 'received: %s\\n' "$line"\ndone\n`,
    );
    await chmod(path.join(bin, 'claude'), 0o755);
    const workspace = path.join(box.root, 'project');
    await mkdir(path.join(workspace, '.hermes'), { recursive: true });
    const hermesHome = path.join(box.root, 'hermes');
    const env = box.env({ PATH: `${bin}:${process.env['PATH']}`, HERMES_HOME: hermesHome, MAM_HERMES_BIN: STANDIN, MAM_TMUX_SERVER: box.serverName('skill') });

    let ran = 0;
    for (const file of await skillFiles()) {
      for (const command of fencedCommands(await readFile(file, 'utf8'))) {
        const result = await run('bash', ['-c', command], { env, cwd: workspace }).catch((error: { code: number; stderr: string }) => error);
        expect('code' in result ? `${command}: exit ${result.code}: ${result.stderr}` : 'ok').toBe('ok');
        ran += 1;
      }
    }
    expect(ran).toBeGreaterThanOrEqual(3);
    // `dispatch --run` really created the card on the (stand-in) board, with the registry in its body.
    const listed = await run(STANDIN, ['kanban', 'list', '--assignee', 'default', '--json'], { env });
    const cards = JSON.parse(listed.stdout) as { id: string; body: string }[];
    expect(cards).toHaveLength(1);
    expect(cards[0]!.body).toContain(`registry: ${path.join(workspace, '.hermes', 'agent-sessions.yaml')}`);
  });
});

describe('mam skills install', () => {
  it('copies each skill folder, reports what changed, and is idempotent', async () => {
    const home = path.join(box.root, 'hermes');
    const first = await mam(['skills', 'install', '--hermes-home', home, '--json'], box.env());
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as { target: string; skills: { skill: string; change: string }[] };
    expect(report.target).toBe(path.join(home, 'skills'));
    expect(report.skills.map((item) => item.change)).toEqual(report.skills.map(() => 'added'));
    expect(report.skills.map((item) => item.skill)).toContain('agent-status');
    expect(await readFile(path.join(home, 'skills', 'agent-sessions-monitor', 'SKILL.md'), 'utf8')).toBe(
      await readFile(path.join(REPO, 'skills', 'agent-sessions-monitor', 'SKILL.md'), 'utf8'),
    );

    const again = JSON.parse((await mam(['skills', 'install', '--hermes-home', home, '--json'], box.env())).stdout) as typeof report;
    expect(again.skills.map((item) => item.change)).toEqual(report.skills.map(() => 'unchanged'));

    await writeFile(path.join(home, 'skills', 'agent-sessions-monitor', 'SKILL.md'), 'edited by someone');
    const human = await mam(['skills', 'install', '--hermes-home', home], box.env());
    expect(human.stdout).toMatch(/^updated\s+agent-sessions-monitor$/m);
  });

  it('installs into a profile\'s home with --profile, and refuses a hostile profile name', async () => {
    const home = path.join(box.root, 'hermes');
    expect((await mam(['skills', 'install', '--hermes-home', home, '--profile', 'mam-monitor'], box.env())).code).toBe(0);
    await readFile(path.join(home, 'profiles', 'mam-monitor', 'skills', 'agent-sessions-monitor', 'SKILL.md'));
    const hostile = await mam(['skills', 'install', '--hermes-home', home, '--profile', '../../etc'], box.env());
    expect(hostile.code).toBe(64);
  });
});

describe('mam monitor dispatch', () => {
  it('prints the goal-mode create command with the card body from prompts/', async () => {
    const result = await mam(['monitor', 'dispatch', '--registry', '/srv/p/.hermes/agent-sessions.yaml', '--interval', '60s'], box.env({ MAM_HERMES_BIN: 'hermes' }));
    expect(result.code, result.stderr).toBe(0);
    const line = result.stdout.trim();
    expect(line).toMatch(/^hermes kanban create 'agent-sessions monitor \(live reconcile\)' --assignee default --goal --goal-max-turns 100 --max-runtime 8h --max-retries 1 --skill agent-sessions-monitor --body '/);
    // The printed line is a real shell command: bash parses the body back intact.
    const { stdout } = await run('bash', ['-c', `set -- ${line.slice('hermes '.length)}; printf '%s' "\${@: -1}"`]);
    expect(stdout).toContain('registry: /srv/p/.hermes/agent-sessions.yaml\ninterval: 60s\nheartbeat: 5m\n');
    expect(stdout).toMatch(/^# agent-sessions monitor\n/);
  });

  it('refuses bad values before running anything', async () => {
    expect((await mam(['monitor', 'dispatch', '--goal-max-turns', '0'], box.env())).code).toBe(64);
    expect((await mam(['monitor', 'dispatch', '--max-runtime', 'forever'], box.env())).code).toBe(64);
    const down = await mam(['monitor', 'dispatch', '--run'], box.env({ MAM_HERMES_BIN: path.join(box.root, 'no-such-hermes') }));
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^mam: hermes kanban create failed/);
  });
});
