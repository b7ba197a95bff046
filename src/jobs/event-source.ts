import { createHash } from 'node:crypto';
import os from 'node:os';
import type { EventSource } from '../reconcile/sources.js';
import { runningEmbeddedBroker } from '../mqtt/broker.js';
import { connectTransport } from './mqtt.js';
import { brokerOptionsFromEnv } from '../mqtt/options.js';
import type { JobTransport } from './transport.js';

/**
 * Job events as a push source for `mam reconcile --subscribe`: every event on any job says "look now".
 * It listens; it never starts a broker just to listen. Without `$MAM_MQTT_URL` and with no embedded
 * broker running yet, start() rejects and is retried — the first `mam job` command starts the broker.
 * Each (re)connect asks for a pass, so events missed while away still lead to one.
 */
export function jobEventSource(env: NodeJS.ProcessEnv, registryFile: string): EventSource {
  let transport: JobTransport | undefined;
  let connected = false;
  // Stable per host and registry: a persistent session, so a restarted reconcile gets what it missed.
  const clientId = `mam-rc-${createHash('sha256').update(`${os.hostname()}\0${registryFile}`).digest('hex').slice(0, 16)}`;
  return {
    get available() {
      return connected;
    },
    async start(onKey) {
      const url = env['MAM_MQTT_URL'] || (await runningEmbeddedBroker(env));
      if (!url) throw new Error('no broker yet: MAM_MQTT_URL is unset and the embedded broker is not running');
      transport = await connectTransport({
        ...brokerOptionsFromEnv(env),
        url,
        clientId,
        env,
      });
      transport.onEvent(({ jobId }) => onKey(`job:${jobId}`));
      transport.onConnection((up) => {
        connected = up;
        if (up) onKey('job:reconnected');
      });
      await transport.subscribe('*');
      connected = true;
      onKey('job:connected');
    },
    async stop() {
      connected = false;
      await transport?.close().catch(() => undefined);
      transport = undefined;
    },
  };
}
