import path from 'node:path';
import { jobLogsRootFor, jobsDirFor } from '../config.js';
import type { JobContext } from './service.js';
import { brokerOptionsFromEnv } from '../mqtt/options.js';
import type { JobTransport } from './transport.js';

/**
 * A JobContext from the environment: the broker is `$MAM_MQTT_URL` (+ user, password, TLS files), else the
 * embedded one; it is connected on first use, and a broker that cannot be reached is reported once through
 * `warn` and leaves the job files as the only channel.
 */
export interface JobContextInput {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The session registry the jobs belong to: job files and audit logs live beside it by default. */
  readonly registryFile: string;
  /** `--registry-dir`: job files here instead. */
  readonly registryDir: string | undefined;
  readonly clientId: string;
  readonly warn: (line: string) => void;
}

/** The jobs directory: `--registry-dir`, else beside the session registry. */
export function jobsDir(input: Pick<JobContextInput, 'cwd' | 'registryFile' | 'registryDir'>): string {
  return input.registryDir ? path.resolve(input.cwd, input.registryDir) : jobsDirFor(input.registryFile);
}

export function jobContext(input: JobContextInput): JobContext {
  let connecting: Promise<JobTransport | undefined> | undefined;
  const { env } = input;
  return {
    dir: jobsDir(input),
    logsRoot: jobLogsRootFor(input.registryFile, env),
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
