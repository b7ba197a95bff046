import mqtt, { type MqttClient } from 'mqtt';
import { MamError } from '../util/errors.js';
import { runningEmbeddedBroker } from './broker.js';
import { clientOptions, describeFailure, displayUrl, uniqueClientId } from './connection.js';
import type { BrokerOptions } from './options.js';
import { foldStatus, liveStatuses, parseStatusMessage, STATUS_TOPIC_FILTER, type AgentStatusMessage, type ReceivedStatus } from './status-message.js';
import { columnWidths, formatAge } from '../util/table.js';

/**
 * `mam status --all-hosts`: every host's sessions from the retained status topics on a shared broker.
 * Subscribes to `mam/v1/+/agents/+/status`, takes what arrives until nothing new has come for `quietMs`
 * (retained messages come in one burst right after the SUBACK) or `timeoutMs` has passed, and keeps the
 * newest valid message per (host, session). It never starts a broker: an embedded broker that is not
 * running has nothing retained to show.
 */

export interface CollectOptions {
  readonly broker: BrokerOptions;
  readonly env: NodeJS.ProcessEnv;
  /** Done once no message has arrived for this long after subscribing. Default 300 ms. */
  readonly quietMs?: number;
  /** Upper bound on the whole read, connecting included. Default 5 s. */
  readonly timeoutMs?: number;
  /** Every message received, in order (tests and progress). */
  readonly onMessage?: (received: ReceivedStatus) => void;
}

export interface AllHostsReport {
  /** The broker read, without credentials. */
  readonly broker: string;
  readonly sessions: readonly AgentStatusMessage[];
  /** Messages on status topics that were not valid status messages (ignored). */
  readonly invalid: number;
  /** False when the timeout came before a quiet period: messages were still arriving. */
  readonly complete: boolean;
}

export async function collectStatuses(options: CollectOptions): Promise<AllHostsReport> {
  const quietMs = options.quietMs ?? 300;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const url = options.broker.url ?? (await brokerToRead(options.env));
  const display = displayUrl(url);
  let client: MqttClient;
  try {
    // One connection, no retry: not connectClient's (./connection.ts) reconnecting path, but its client options.
    client = mqtt.connect(url, await clientOptions(options.broker, { clientId: uniqueClientId('mam-status-read'), clean: true, reconnectPeriod: 0, connectTimeout: timeoutMs }));
  } catch (error) {
    throw new MamError(`broker URL ${display} is not usable (${(error as Error).message}); expected mqtt://host:port or mqtts://host:port`);
  }

  let state = new Map<string, AgentStatusMessage>();
  let invalid = 0;
  return new Promise<AllHostsReport>((resolve, reject) => {
    let subscribed = false;
    let quietTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (complete: boolean, error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(overall);
      clearTimeout(quietTimer);
      client.end(true);
      if (error) reject(error);
      else resolve({ broker: display, sessions: liveStatuses(state), invalid, complete });
    };
    const overall = setTimeout(() => {
      if (subscribed) finish(false);
      else finish(false, new MamError(`broker ${display} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const quiet = (): void => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => finish(true), quietMs);
    };

    // Attached before the CONNACK can arrive (docs/jobs.md, 'What mam relies on in MQTT'): retained messages
    // follow the SUBACK at once.
    client.on('message', (topic, payload) => {
      const received = parseStatusMessage(topic, payload);
      if (received.kind === 'invalid') invalid += 1;
      state = foldStatus(state, received);
      options.onMessage?.(received);
      if (subscribed) quiet();
    });
    client.on('error', (error) => finish(false, new MamError(describeFailure(display, error))));
    client.on('close', () => {
      if (!subscribed) finish(false, new MamError(`broker ${display} closed the connection before the subscription`));
    });
    client.on('connect', () => {
      client.subscribe(STATUS_TOPIC_FILTER, { qos: 1 }, (error, granted) => {
        if (error) return finish(false, new MamError(`broker ${display}: subscribing to ${STATUS_TOPIC_FILTER} failed (${error.message})`));
        if (granted?.some((grant) => grant.qos === 128)) return finish(false, new MamError(`broker ${display} refused the subscription to ${STATUS_TOPIC_FILTER}`));
        subscribed = true;
        quiet();
      });
    });
  });
}

async function brokerToRead(env: NodeJS.ProcessEnv): Promise<string> {
  const url = await runningEmbeddedBroker(env);
  if (url !== undefined) return url;
  throw new MamError('no broker to read: MAM_MQTT_URL is not set and the embedded broker is not running; point MAM_MQTT_URL at the broker your hosts share');
}

/** HOST SESSION AGENT ACTIVITY SINCE AGENTS CWD; SINCE is how long it has needed approval, else since the last change. */
export function allHostsTable(report: AllHostsReport, now: number): string {
  const header = ['HOST', 'SESSION', 'AGENT', 'ACTIVITY', 'SINCE', 'AGENTS', 'CWD'];
  const rows = report.sessions.map((message) => {
    const since = Date.parse(message.needs_approval_since ?? message.updated_at);
    return [
      message.host,
      message.session,
      message.agent,
      message.status === 'needs_approval' ? 'NEEDS APPROVAL' : message.status,
      formatAge(Number.isNaN(since) ? null : Math.max(0, Math.round((now - since) / 1000))),
      String(Object.keys(message.agents).length),
      message.cwd ?? '-',
    ].map(printable);
  });
  const widths = columnWidths(header, rows);
  const line = (cells: string[]): string => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  const lines = [line(header), ...rows.map(line)];
  if (rows.length === 0) lines.push(`(no agent status on ${report.broker})`);
  return lines.join('\n');
}

/** Other hosts write these strings: no terminal escapes or line breaks from them reach the screen. */
function printable(cell: string): string {
  // eslint-disable-next-line no-control-regex
  return cell.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
