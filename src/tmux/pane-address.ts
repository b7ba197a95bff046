import { execFile } from 'node:child_process';

/** A pane by its server's socket path and its id (`%12`): stable for the pane's life, whatever it is named. */
export interface PaneAddress {
  readonly socket: string;
  readonly id: string;
}

/**
 * The pane a process runs in, from the variables tmux gives every pane: `TMUX` is `socket,server-pid,session`
 * and `TMUX_PANE` the pane id. Undefined outside tmux (or when either is malformed).
 */
export function paneFromEnv(env: NodeJS.ProcessEnv): PaneAddress | undefined {
  const socket = env['TMUX']?.split(',', 1)[0];
  const id = env['TMUX_PANE'];
  return socket && socket.startsWith('/') && id && /^%\d+$/.test(id) ? { socket, id } : undefined;
}

/**
 * The visible screen of one pane (wrapped lines joined), or undefined when it cannot be read: the pane or its
 * server is gone, tmux is missing, or it did not answer within `timeoutMs`.
 */
export function capturePaneAt(address: PaneAddress, options: { readonly bin?: string; readonly timeoutMs?: number } = {}): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      options.bin ?? 'tmux',
      ['-S', address.socket, 'capture-pane', '-p', '-J', '-t', address.id],
      { encoding: 'utf8', timeout: options.timeoutMs ?? 5_000, maxBuffer: 16 * 1024 * 1024, windowsHide: true },
      (error, stdout) => resolve(error ? undefined : stdout),
    );
  });
}
