import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * A message on the status line of every client attached to one tmux server (`display-message -c`), for
 * notifications (src/notify/). By socket path, like pane addresses; a server with no client attached gets nothing.
 */
export interface MessageOptions {
  readonly bin?: string;
  readonly timeoutMs?: number;
}

function tmux(args: readonly string[], options: MessageOptions): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(options.bin ?? 'tmux', [...args], { encoding: 'utf8', timeout: options.timeoutMs ?? 5_000, windowsHide: true }, (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr }));
  });
}

/**
 * Shows `text` to every client of the server at `socket`; resolves how many clients it was shown to. The text is
 * a tmux format to display-message, so `#` is doubled to stay literal. Two tmux calls: list-clients, then one
 * display-message per client chained with `;`. A server that is gone is 0 clients, not an error.
 */
export async function displayOnClients(socket: string, text: string, options: MessageOptions = {}): Promise<number> {
  if (!existsSync(socket)) return 0;
  const listed = await tmux(['-S', socket, 'list-clients', '-F', '#{client_name}'], options);
  const clients = listed.ok ? listed.stdout.split('\n').filter(Boolean) : [];
  if (clients.length === 0) return 0;
  const literal = text.replace(/#/g, '##');
  const args = clients.flatMap((client, index) => [...(index === 0 ? [] : [';']), 'display-message', '-c', client, literal]);
  const shown = await tmux(['-S', socket, ...args], options);
  if (!shown.ok) throw new Error(`tmux display-message on ${socket} failed: ${shown.stderr.trim() || 'no answer'}`);
  return clients.length;
}

/** The socket plain `tmux` reaches outside tmux: `${TMUX_TMPDIR:-/tmp}/tmux-<uid>/default`. */
export function defaultSocket(env: NodeJS.ProcessEnv): string {
  return path.join(env['TMUX_TMPDIR'] || '/tmp', `tmux-${process.getuid?.() ?? 0}`, 'default');
}
