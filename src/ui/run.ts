import { DEFAULT_AGENT, homeDir } from '../config.js';
import { lifecycleContext } from '../lifecycle/context.js';
import { statusHost } from '../mqtt/status-message.js';
import { MamError } from '../util/errors.js';
import type { Screen } from './app.js';
import { Dashboard } from './dashboard.js';
import { FleetFeed } from './feed.js';

/**
 * `mam ui` from start to quit: the headless dashboard and its feed, drawn by the ink shell (./app.ts). React and ink
 * take most of the start-up to load, so the feed starts first and reads the fleet meanwhile: the first frame
 * usually has the rows. The screen is the terminal's alternate screen, left for an attach (tmux draws there
 * itself) and entered again after.
 */
export interface DashboardRun {
  readonly registry: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
}

const ENTER_SCREEN = '\x1b[?1049h\x1b[H\x1b[2J';
const LEAVE_SCREEN = '\x1b[?1049l';

/** Runs the dashboard until the person quits; resolves the exit code. */
export async function runDashboard(run: DashboardRun): Promise<number> {
  const { stdin, stdout, env } = run;
  if (!stdout.isTTY || !stdin.isTTY) throw new MamError('mam ui needs a terminal (stdin and stdout must be a TTY); for scripts, `mam status --json`');
  // no-color.org: set and not empty turns colour off; a dumb terminal has none either.
  const color = !env['NO_COLOR'] && env['TERM'] !== 'dumb';
  let screen: Screen | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let feed: FleetFeed | undefined;
  const mount = (): void => {
    stdout.write(ENTER_SCREEN);
    screen?.mount();
  };

  const lifecycle = lifecycleContext({ registry: run.registry, env, cwd: run.cwd, say: () => undefined });
  const dashboard = new Dashboard({
    lifecycle,
    host: statusHost(env),
    home: homeDir(env),
    cwd: run.cwd,
    color,
    size: () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }),
    defaults: { agent: DEFAULT_AGENT, workspace: run.cwd },
    suspend: async (body) => {
      screen?.unmount();
      stdout.write(LEAVE_SCREEN);
      try {
        return await body();
      } finally {
        mount();
      }
    },
    refresh: () => feed?.refresh(),
    quit: () => finish(),
  });
  feed = new FleetFeed({ lifecycle, onSnapshot: (snapshot) => dashboard.onSnapshot(snapshot), onProblem: (text) => dashboard.say(text, 'error') });
  const onResize = (): void => {
    // A full redraw after a resize: what the terminal did to the old lines is not known.
    screen?.clear();
    dashboard.redraw();
  };

  const started = feed.start().then(
    () => undefined,
    (error: unknown) => error,
  );
  try {
    const { inkScreen } = await import('./app.js');
    screen = inkScreen(dashboard, stdin, stdout);
    mount();
    stdout.on('resize', onResize);
    const failed = await started;
    if (failed !== undefined) throw failed;
    await finished;
  } finally {
    stdout.off('resize', onResize);
    dashboard.close();
    screen?.unmount();
    if (screen) stdout.write(LEAVE_SCREEN);
    await feed.stop();
  }
  return 0;
}
