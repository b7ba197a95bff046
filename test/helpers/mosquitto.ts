import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import path from 'node:path';
import { freePort } from './free-port.js';
import { until } from './until.js';

/** Debian puts mosquitto in /usr/sbin, which a non-root PATH may lack. */
export const MOSQUITTO = ['mosquitto', '/usr/sbin/mosquitto'].find((bin) => !spawnSync(bin, ['-h']).error);
export const MOSQUITTO_MISSING = MOSQUITTO ? undefined : 'mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)';

/**
 * An anonymous mosquitto on a free loopback port (or on `port`: a broker started again where it was), for tests that
 * need "a real broker". Kill it with stop().
 */
export async function startMosquitto(dir: string, port?: number): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  if (!MOSQUITTO) throw new Error(MOSQUITTO_MISSING);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  port ??= await freePort();
  const config = path.join(dir, 'mosquitto.conf');
  await writeFile(config, `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
  const child: ChildProcess = spawn(MOSQUITTO, ['-c', config], { stdio: 'ignore' });
  await until(
    () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}) before listening on port ${port}`);
      return canConnect(port);
    },
    `mosquitto on port ${port}`,
    10_000,
  );
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}
