import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.js';
import { mam, type Sandbox } from '../helpers/sandbox.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import type { ModelServer, Reply } from './model-server.js';

/**
 * A delegated job whose agent is the real Claude Code CLI: the (scripted) model reads the instruction header
 * and calls the `mam job event` commands it names through Claude's real Bash tool — so the agent really
 * reports, from inside its tmux session, over MQTT.
 */
let session: ClaudeSession | undefined;
let box: Sandbox;
let model: ModelServer;
let env: NodeJS.ProcessEnv;
let workdir: string;

/** The model's side: find the report command in the instruction, run started + completed with Bash. */
function script(request: { turnText: string; toolResults: unknown[] }): Reply | undefined {
  if (request.toolResults.length > 0) return { text: 'Reported completion.' };
  const command = /on start: (.+? --registry-dir \S+) --event started/.exec(request.turnText)?.[1];
  if (!command) return undefined;
  return { toolUse: { name: 'Bash', input: { command: `${command} --event started && ${command} --event completed --detail 'done by claude'`, description: 'Report the job' } } };
}

beforeEach(async () => {
  session = await startClaudeSession({ prefix: 'mam-claude-job-', serverTag: 'cjob', workspace: 'app', script: () => script });
  ({ box, model, workspace: workdir } = session);
  env = { ...session.env, MAM_TMUX_SERVER: session.server };
  // The user has allowed Bash for this test project, so the report runs without a permission dialog.
  await mkdir(path.join(box.home, '.claude'), { recursive: true });
  await writeFile(path.join(box.home, '.claude', 'settings.json'), JSON.stringify({ permissions: { allow: ['Bash'] } }));
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

const BROKERS = [
  { name: 'the embedded broker', skip: undefined },
  { name: 'a real mosquitto', skip: MOSQUITTO_MISSING },
] as const;

describe.each(BROKERS)('a delegated job run by the real Claude Code CLI, over $name', ({ name, skip }) => {
  it.skipIf(skip !== undefined)(`completes through the events Claude reports with its Bash tool${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const mosquitto = name === 'a real mosquitto' ? await startMosquitto(path.join(box.root, 'mosquitto')) : undefined;
    if (mosquitto) env = { ...env, MAM_MQTT_URL: mosquitto.url };
    const result = await mam(['job', 'submit', '--agent', 'claude', '--prompt', 'write the release notes', '--workdir', workdir, '--registry-dir', path.join(workdir, '.mam', 'jobs')], env, workdir).finally(() => mosquitto?.stop());
    // Events really travelled over that broker: nothing fell back to the files.
    expect(result.stderr).not.toMatch(/following the job files instead|not published/);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/^event: started$/m);
    expect(result.stdout).toMatch(/^event: completed — done by claude$/m);
    const id = /registered job: (j_[0-9a-f]{24})/.exec(result.stdout)![1]!;
    const auditDir = path.join(box.home, '.hermes', 'delegate_job_logs', id);
    expect(result.stdout.trim().split('\n').at(-1)).toBe(auditDir);
    // The model was really asked: the instruction header with this job's id reached it through Claude.
    expect(model.messages('main').some((request) => JSON.stringify(request.body).includes(`Your job_id is \\"${id}\\"`))).toBe(true);
    // The audit log's pane snapshot, taken when the job ended, shows Claude running the report command.
    const pane = await readFile(path.join(auditDir, 'pane-final.txt'), 'utf8');
    expect(pane).toMatch(/Bash\(.*job event/);
  });
});
