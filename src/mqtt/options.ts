/** Every topic mam publishes lives under this prefix: jobs (src/jobs/transport.ts) and agent status (./status-message.ts). */
export const TOPIC_PREFIX = 'mam/v1';

export interface BrokerOptions {
  /** `mqtt://host:port`, `mqtts://…`; undefined → the embedded broker (started on demand). */
  readonly url: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM paths for TLS to a real broker. */
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** The broker named by the environment: `$MAM_MQTT_URL` (+ `_USERNAME`, `_PASSWORD`, `_CA`, `_CERT`, `_KEY`); no URL → embedded. */
export function brokerOptionsFromEnv(env: NodeJS.ProcessEnv): BrokerOptions {
  return {
    url: env['MAM_MQTT_URL'] || undefined,
    username: env['MAM_MQTT_USERNAME'],
    password: env['MAM_MQTT_PASSWORD'],
    ca: env['MAM_MQTT_CA'],
    cert: env['MAM_MQTT_CERT'],
    key: env['MAM_MQTT_KEY'],
  };
}
