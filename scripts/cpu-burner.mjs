#!/usr/bin/env node
// A bounded CPU burner for `npm run test:busy`: N busy processes (default 8, a load of about 8 on two cores)
// for at most --seconds (default 1800), ending at once when the process that started it goes away. It keeps
// the machine as busy as a developer's laptop running builds beside the suite, so tests that assume a speed fail.
import { fork } from 'node:child_process';
import process from 'node:process';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`cpu-burner: --${name} takes a positive number`);
  return value;
};

if (process.env.MAM_BURNER_CHILD === '1') {
  const until = Date.now() + Number(process.env.MAM_BURNER_MS);
  // Spin in short slices so a disconnect from the parent (it died) is noticed within ~50 ms.
  process.on('disconnect', () => process.exit(0));
  const spin = () => {
    const slice = Date.now() + 50;
    while (Date.now() < slice) Math.sqrt(Math.random());
    if (Date.now() < until) setImmediate(spin);
    else process.exit(0);
  };
  spin();
} else {
  const workers = flag('workers', 8);
  const ms = flag('seconds', 1800) * 1000;
  const children = Array.from({ length: workers }, () =>
    fork(new URL(import.meta.url).pathname, [], { env: { ...process.env, MAM_BURNER_CHILD: '1', MAM_BURNER_MS: String(ms) }, stdio: 'ignore' }),
  );
  const stop = () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let left = children.length;
  for (const child of children) child.once('exit', () => (left -= 1) === 0 && process.exit(0));
  process.stderr.write(`cpu-burner: ${workers} busy processes for at most ${ms / 1000} s (pid ${process.pid})\n`);
}
