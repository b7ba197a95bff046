import { execFile } from 'node:child_process';

/**
 * A desktop notification: `notify-send` (libnotify) on Linux and the BSDs, `osascript` on macOS. Only argv, never a
 * shell: a session name or a command in the text cannot run anything.
 */
export function desktopCommand(platform: NodeJS.Platform, title: string, body: string): { readonly bin: string; readonly args: readonly string[] } {
  if (platform === 'darwin') {
    return { bin: 'osascript', args: ['-e', `display notification ${appleScriptString(body)} with title ${appleScriptString(title)}`] };
  }
  // `--` ends the options: a title that starts with `-` is still the title.
  return { bin: 'notify-send', args: ['--app-name=mam', '--', title, ...(body === '' ? [] : [body])] };
}

/** An AppleScript string literal: backslash and double quote escaped, inside double quotes. */
export function appleScriptString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Runs the command; rejects with what it said when it fails (not found, no notification daemon, timed out). */
export function sendDesktop(command: { readonly bin: string; readonly args: readonly string[] }, env: NodeJS.ProcessEnv, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command.bin, [...command.args], { env, timeout: timeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const code = (error as NodeJS.ErrnoException).code;
      reject(new Error(code === 'ENOENT' ? `${command.bin} is not installed (not on PATH)` : `${command.bin} failed: ${String(stderr).trim() || error.message}`));
    });
  });
}
