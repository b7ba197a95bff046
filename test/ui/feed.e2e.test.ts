import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lifecycleContext, type LifecycleContext } from '../../src/lifecycle/context.js';
import { statusTopic, type AgentStatusMessage } from '../../src/mqtt/status-message.js';
import { Dashboard } from '../../src/ui/dashboard.js';
import { FleetFeed } from '../../src/ui/feed.js';
import { frameText } from '../../src/ui/frame.js';
import { Sandbox } from '../helpers/sandbox.js';
import { MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.js';
import { until } from '../helpers/until.js';
import { statusMessage } from './fixtures.js';

/**
 * The dashboard's feed with real parts and no terminal: tmux on a private socket, the registry and fact files on
 * disk, a real mosquitto for other hosts. Each change is made the way its real source makes it, and the frame is
 * expected to show it; the resync is set to an hour, so what arrives came by push (the pane look-ups aside).
 */
let box: Sandbox;
let agents: string;
let stops: Array<() => Promise<void>>;

beforeEach(async () => {
  box = await Sandbox.create('mam-ui-feed-');
  agents = box.serverName('agents');
  stops = [];
});
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  await box.dispose();
});

const BOUND = 60_000;

function start(env: NodeJS.ProcessEnv = box.env()) {
  const base = lifecycleContext({ registry: box.registry, env, cwd: box.root, say: () => undefined });
  const lifecycle: LifecycleContext = { ...base, tmux: { ...base.tmux, env } };
  let feed: FleetFeed | undefined;
  const dashboard = new Dashboard({
    lifecycle,
    host: 'here',
    home: box.home,
    cwd: box.root,
    color: false,
    size: () => ({ columns: 140, rows: 30 }),
    defaults: { agent: 'claude', workspace: box.root },
    suspend: (body) => body(),
    refresh: () => feed?.refresh(),
    quit: () => undefined,
  });
  const problems: string[] = [];
  feed = new FleetFeed({ lifecycle, onSnapshot: (snapshot) => dashboard.onSnapshot(snapshot), onProblem: (text) => problems.push(text), resyncMs: 3_600_000 });
  stops.push(async () => {
    dashboard.close();
    await feed.stop();
  });
  const screen = (): string => frameText(dashboard.frame).join('\n');
  const shows = (pattern: RegExp) => (): boolean => pattern.test(screen());
  const detail = { detail: () => `frame:\n${screen()}\nproblems: ${problems.join(' | ')}` };
  return { feed, dashboard, screen, shows, detail };
}

const entry = (name: string, extra = ''): string =>
  `  - {name: ${name}, agent: claude, workspace: ${path.join(box.root, 'ws')}, status: running, tmux_server: ${agents}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: conv-${name}${extra}}\n`;

async function fact(name: string, status: string, tools: Record<string, unknown> = {}): Promise<void> {
  const dir = path.join(box.root, 'cache', 'mam', 'status');
  await mkdir(dir, { recursive: true });
  const at = new Date().toISOString();
  // As a hook writes it: a dot-named temp file renamed into place.
  const temp = path.join(dir, `.conv-${name}.tmp`);
  await writeFile(temp, JSON.stringify({ status, tools, agent_type: null, needs_approval_since: status === 'needs_approval' ? at : null, updated_at: at }));
  const { rename } = await import('node:fs/promises');
  await rename(temp, path.join(dir, `conv-${name}.agent.main.json`));
}

describe('the dashboard feed', () => {
  it('shows a hook fact, a registry change and a killed session as they happen', async () => {
    const ws = path.join(box.root, 'ws');
    await box.startSession(agents, 'one', ws);
    await box.startSession(agents, 'two', ws);
    await box.writeRegistry(`tmux_sessions:\n${entry('one')}`);
    await fact('one', 'working');
    const { feed, shows, detail } = start();
    await feed.start();
    await until(shows(/● working +\S+ +one /), 'one working from its fact file', BOUND, detail);

    // A hook asks for approval: the status directory's watch brings it.
    await fact('one', 'needs_approval', { t: { status: 'needs_approval', tool_name: 'Bash', input: null, command: 'make deploy' } });
    await until(shows(/! needs approval +\S+ +one /), 'one needing approval', BOUND, detail);

    // Someone registers a second session: the registry's watch brings it.
    await box.writeRegistry(`tmux_sessions:\n${entry('one')}${entry('two')}`);
    await until(shows(/ two /), 'the second session', BOUND, detail);
    expect(shows(/2 sessions/)()).toBe(true);

    // tmux kills it: control mode brings it.
    await box.killSession(agents, 'two');
    await until(shows(/✗ gone +\S+ +two /), 'two gone', BOUND, detail);
  });

  it("lists other hosts' sessions from the broker's retained status, drops this host's own, and forgets a cleared one", async (context) => {
    if (MOSQUITTO_MISSING) return context.skip(MOSQUITTO_MISSING);
    const broker = await startMosquitto(path.join(box.root, 'mosquitto'));
    stops.push(broker.stop);
    const publisher = await mqtt.connectAsync(broker.url);
    stops.push(async () => void (await publisher.endAsync()));
    const publish = (message: AgentStatusMessage | { host: string; session: string; clear: true }) =>
      publisher.publishAsync(statusTopic(message.host, message.session), 'clear' in message ? '' : JSON.stringify(message), { qos: 1, retain: true });
    await publish(statusMessage('far', 'remote-job', { status: 'needs_approval', needs_approval_since: new Date().toISOString(), cwd: '/srv/remote-job' }));
    await publish(statusMessage('here', 'mine', { seq: 3 }));
    await box.writeRegistry('tmux_sessions: []\n');

    const { feed, shows, screen, detail } = start(box.env({ MAM_MQTT_URL: broker.url }));
    await feed.start();
    await until(shows(/! needs approval +\S+ +remote-job +claude +\/srv\/remote-job +- +far/), "far's session", BOUND, detail);
    expect(screen()).not.toMatch(/ mine /);
    expect(screen()).toMatch(/127\.0\.0\.1/);

    // A new session on far arrives while the dashboard runs; a cleared topic takes the first one away.
    await publish(statusMessage('far', 'second', { seq: 1 }));
    await until(shows(/● working +\S+ +second /), 'the new remote session', BOUND, detail);
    await publish({ host: 'far', session: 'remote-job', clear: true });
    await until(() => !/remote-job/.test(screen()), 'the cleared session gone from the list', BOUND, detail);
  });
});
