import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mam, Sandbox } from '../helpers/sandbox.js';

/**
 * Which registry a command uses when none is named: the nearest `.hermes/agent-sessions.yaml` up from the
 * current directory, else `~/.hermes/agent-sessions.yaml`; every human output names it, and jobs live
 * beside it so they are found from anywhere.
 */
let box: Sandbox;
let env: NodeJS.ProcessEnv;
let project: string;
let deep: string;
let elsewhere: string;
beforeEach(async () => {
  box = await Sandbox.create('mam-where-');
  project = path.join(box.root, 'project');
  deep = path.join(project, 'src', 'deep');
  elsewhere = path.join(box.root, 'elsewhere');
  await mkdir(deep, { recursive: true });
  await mkdir(elsewhere, { recursive: true });
  env = box.env({ MAM_TMUX_SERVER: box.serverName('where') });
});
afterEach(async () => {
  await box.dispose();
});

const projectRegistry = (): string => path.join(project, '.hermes', 'agent-sessions.yaml');
const homeRegistry = (): string => path.join(box.home, '.hermes', 'agent-sessions.yaml');

describe('one registry a user can find', () => {
  it('finds the nearest .hermes/agent-sessions.yaml walking up, and names it', async () => {
    await box.writeRegistry(`tmux_sessions:\n  - {name: api-creator-claude, agent: claude, workspace: ${project}, status: stopped, created_at: 2026-01-01T00:00:00Z}\n`, projectRegistry());
    const status = await mam(['status'], env, deep);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout.split('\n')[0]).toBe(`registry: ${projectRegistry()}`);
    expect(status.stdout).toMatch(/^api-creator-claude\s+claude\s+stopped/m);
    const json = JSON.parse((await mam(['status', '--json'], env, deep)).stdout) as { registry: string; sessions: unknown[] };
    expect(json.registry).toBe(projectRegistry());
    expect(json.sessions).toHaveLength(1);
  });

  it('falls back to ~/.hermes/agent-sessions.yaml, and says when there is none yet', async () => {
    const status = await mam(['status'], env, elsewhere);
    expect(status.code).toBe(0);
    expect(status.stdout.trim()).toBe(`no registry at ${homeRegistry()} yet: nothing is registered`);
    expect((JSON.parse((await mam(['status', '--json'], env, elsewhere)).stdout) as { registry: string }).registry).toBe(homeRegistry());
    // Once it exists, every directory outside a project sees that one list.
    await box.writeRegistry('tmux_sessions: []\n', homeRegistry());
    expect((await mam(['status'], env, elsewhere)).stdout.split('\n')[0]).toBe(`registry: ${homeRegistry()}`);
  });

  it('MAM_REGISTRY and --registry still win over the walk', async () => {
    await box.writeRegistry('tmux_sessions: []\n', projectRegistry());
    const other = path.join(box.root, 'other.yaml');
    expect((JSON.parse((await mam(['status', '--json'], { ...env, MAM_REGISTRY: other }, deep)).stdout) as { registry: string }).registry).toBe(other);
    expect((JSON.parse((await mam(['status', '--json', '--registry', '../x.yaml'], env, deep)).stdout) as { registry: string }).registry).toBe(path.join(project, 'src', 'x.yaml'));
  });

  it('a reconcile of a registry that does not exist says so instead of "no drift"', async () => {
    const missing = path.join(box.root, 'nonexistent', 'x.yaml');
    const result = await mam(['reconcile', '--once', '--registry', missing], env, elsewhere);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`no registry at ${missing} yet: nothing is registered`);
    expect(existsSync(path.dirname(missing))).toBe(false);
  });

  it('jobs and their audit logs live beside the registry, so job list answers from anywhere in the project', async () => {
    await box.writeRegistry('tmux_sessions: []\n', projectRegistry());
    const workdir = path.join(project, 'src');
    const submitted = await mam(['job', 'submit', '--agent', 'human', '--prompt', 'review the diff', '--workdir', workdir, '--dry-run'], env, workdir);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = /registered job: (j_[0-9a-f]{24})/.exec(submitted.stdout)![1]!;
    expect((await readdir(path.join(project, '.hermes', 'jobs'))).filter((name) => name.endsWith('.json'))).toEqual([`${id}.json`]);
    expect(submitted.stdout.trim().split('\n').at(-1)).toBe(path.join(project, '.hermes', 'delegate_job_logs', id));
    expect(existsSync(path.join(workdir, 'delegate_job_logs'))).toBe(false);
    expect(existsSync(path.join(workdir, '.mam'))).toBe(false);

    const listed = await mam(['job', 'list'], env, deep);
    expect(listed.stdout.split('\n')[0]).toBe(`jobs in ${path.join(project, '.hermes', 'jobs')}:`);
    expect(listed.stdout).toContain(id);
    expect((await mam(['job', 'status', '--job', id], env, deep)).stdout).toMatch(new RegExp(`^${id}  pending`));
    // Outside the project: the user's own registry, which has no jobs yet.
    expect((await mam(['job', 'list'], env, elsewhere)).stdout.trim()).toBe(`no jobs in ${path.join(box.home, '.hermes', 'jobs')}`);
    // --registry-dir still wins.
    expect((await mam(['job', 'list', '--registry-dir', path.join(project, '.hermes', 'jobs')], env, elsewhere)).stdout).toContain(id);
  });
});
