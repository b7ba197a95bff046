// The alternative to ink that bench/ui.bench.ts times `mam ui`'s start-up against: the same feed and headless
// dashboard (dist/ui/), drawn with plain ANSI (home, each line, erase to its end, erase below) and no React. Not
// shipped and not a product: it has no attach or resize handling, only `q` to quit. Run from the built tree:
//   node bench/ui-plain-shell.mjs REGISTRY
import { lifecycleContext } from '../dist/lifecycle/context.js';
import { statusHost } from '../dist/mqtt/status-message.js';
import { Dashboard } from '../dist/ui/dashboard.js';
import { FleetFeed } from '../dist/ui/feed.js';

const SGR = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 };
const out = process.stdout;
const env = process.env;
const lifecycle = lifecycleContext({ registry: process.argv[2], env, cwd: process.cwd(), say: () => undefined });

const style = (segment) => {
  const codes = [segment.color ? SGR[segment.color] : undefined, segment.bold ? 1 : undefined, segment.dim ? 2 : undefined, segment.inverse ? 7 : undefined].filter((code) => code !== undefined);
  return codes.length === 0 ? segment.text : `\x1b[${codes.join(';')}m${segment.text}\x1b[0m`;
};
const draw = (frame) => out.write(`\x1b[H${frame.lines.map((line) => `${line.map(style).join('')}\x1b[K`).join('\r\n')}\x1b[J`);

let feed;
const stop = async () => {
  dashboard.close();
  await feed.stop();
  out.write('\x1b[?1049l');
  process.exit(0);
};
const dashboard = new Dashboard({
  lifecycle,
  host: statusHost(env),
  home: env.HOME ?? '/',
  cwd: process.cwd(),
  color: !env.NO_COLOR,
  size: () => ({ columns: out.columns || 80, rows: out.rows || 24 }),
  defaults: { agent: 'claude', workspace: process.cwd() },
  suspend: (run) => run(),
  refresh: () => feed.refresh(),
  quit: () => void stop(),
});
out.write('\x1b[?1049h');
draw(dashboard.frame);
dashboard.subscribe(draw);
feed = new FleetFeed({ lifecycle, onSnapshot: (snapshot) => dashboard.onSnapshot(snapshot), onProblem: (text) => dashboard.say(text, 'error') });
await feed.start();
process.stdin.setRawMode(true);
process.stdin.on('data', (data) => {
  if (String(data).includes('q')) void stop();
});
