import { TOPIC_PREFIX, type BrokerOptions } from '../mqtt/options.js';
import type { JobEvent, JobStateMessage } from './schema.js';

export type { BrokerOptions };

/**
 * How job events travel: MQTT (mqtt.js) to the embedded broker or a real one. Topics live under one
 * prefix: `mam/v1/jobs/<id>/events` (QoS 1) and, retained, `mam/v1/jobs/<id>/state`.
 */
export const eventsTopic = (jobId: string): string => `${TOPIC_PREFIX}/jobs/${jobId}/events`;
export const stateTopic = (jobId: string): string => `${TOPIC_PREFIX}/jobs/${jobId}/state`;

export interface EventMessage {
  readonly jobId: string;
  readonly event: JobEvent;
}

export interface JobTransport {
  /** QoS 1 publish of one event; resolves when the broker has acknowledged it. */
  publishEvent(jobId: string, event: JobEvent): Promise<void>;
  /** Retained QoS 1 publish of the job's current state. */
  publishState(state: JobStateMessage): Promise<void>;
  /**
   * Subscribes to one job's events, or all jobs' (`'*'`), with a persistent session (clean: false,
   * a stable clientId): events published while this subscriber was away are delivered on reconnect.
   * The handler is attached before connecting, so nothing flushed with CONNACK is lost.
   */
  onEvent(handler: (message: EventMessage) => void): void;
  subscribe(jobId: string | '*'): Promise<void>;
  /** Connection state changes, for falling back to polling while the broker is down. */
  onConnection(handler: (connected: boolean) => void): void;
  close(): Promise<void>;
}
