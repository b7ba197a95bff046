import path from 'node:path';
import type { JobContext } from './service.js';
import { DEFAULT_JOBS_DIR } from './store.js';
import { brokerOptionsFromEnv, type JobTransport } from './transport.js';

/**
 * A JobContext from the environment: the broker is `$MAM_MQTT_URL` (+ user, password, TLS files), else the
 * embedded one; it is connected on first use, and a broker that cannot be reached is reported once through
 * `warn` and leaves the job files as the only channel.
 */
export function jobContext(input: { env: NodeJS.ProcessEnv; cwd: string; registryDir: string | undefined; clientId: string; warn: (line: string) => void }): JobContext {
  let connecting: Promise<JobTransport | undefined> | undefined;
  const { env } = input;
  return {
    dir: path.resolve(input.cwd, input.registryDir ?? DEFAULT_JOBS_DIR),
    env,
    now: Date.now,
    lock: { timeoutMs: 30_000 },
    transport: () =>
      (connecting ??= import('./mqtt.js')
        .then(({ connectTransport }) =>
          connectTransport({
            ...brokerOptionsFromEnv(env),
            clientId: input.clientId || `mam-${process.pid}-${Date.now().toString(36)}`,
            env,
          }),
        )
        .catch((error: unknown) => {
          input.warn(`${(error as Error).message}; following the job files instead`);
          return undefined;
        })),
  };
}
