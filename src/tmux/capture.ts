import { randomBytes } from 'node:crypto';
import { runTmux, sessionTarget, type TmuxOptions, type TmuxServer } from './client.js';

/**
 * Several sessions' screens in one tmux call (`capture-pane … ; display-message -p MARK ; capture-pane …`),
 * like the one `list-panes -a` per pass: one process per server instead of one per session, which is what
 * keeps the monitor's idle cost flat as sessions are added (BENCHMARKS.md). Each screen is the visible
 * pane, wrapped lines joined, as `capturePane` (./session.ts) returns it.
 *
 * tmux stops a command sequence at the first command that fails, so a session that vanished between the
 * listing and the capture ends the batch there: it gets undefined and the rest are asked again.
 */
export async function capturePanes(server: TmuxServer, sessions: readonly string[], options: TmuxOptions = {}): Promise<Map<string, string | undefined>> {
  const screens = new Map<string, string | undefined>();
  let rest = [...new Set(sessions)];
  while (rest.length > 0) {
    // A fresh random marker per call: no screen can be expected to show it by chance.
    const marker = `mam-capture-${randomBytes(8).toString('hex')}`;
    const args = rest.flatMap((name, index) => [...(index === 0 ? [] : [';']), 'capture-pane', '-p', '-J', '-t', sessionTarget(name), ';', 'display-message', '-p', marker]);
    const result = await runTmux(server, args, options);
    const parts = result.stdout.split(`${marker}\n`);
    const done = Math.min(parts.length - 1, rest.length);
    for (let index = 0; index < done; index += 1) screens.set(rest[index]!, parts[index]!);
    if (done === rest.length) break;
    // The session after the last marker could not be captured. A tmux that could not answer at all (no
    // server, not installed, killed) leaves every remaining session unknown.
    if (done === 0 && !/can't find (?:session|window|pane)/.test(result.stderr)) {
      for (const name of rest) screens.set(name, undefined);
      break;
    }
    screens.set(rest[done]!, undefined);
    rest = rest.slice(done + 1);
  }
  return screens;
}
