import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP plumbing the scripted model servers share (test/codex/model-server.ts, test/gemini/model-server.ts): one
 * loopback listener that records every request, parses JSON bodies and hands each to the server's handler. Only the
 * model is fake; the CLIs that talk to it are the real ones.
 */

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Path with the query string. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body, the raw text if it is not JSON, or undefined when empty. */
  readonly body: unknown;
  /** What the handler calls this request (`main`, `title`, …), for filtering. */
  kind?: string;
  /** What the handler answered, for assertions. */
  reply?: unknown;
  /** The HTTP status answered. */
  status?: number;
}

export type Handler = (request: RecordedRequest, response: ServerResponse) => void;

export interface ScriptedHttp {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startScriptedHttp(handle: Handler): Promise<ScriptedHttp> {
  const requests: RecordedRequest[] = [];
  const server = createServer((incoming, response) => {
    void readBody(incoming).then(
      (raw) => {
        const url = incoming.url ?? '/';
        const record: RecordedRequest = { method: incoming.method ?? 'GET', path: url.split('?')[0] ?? '/', url, headers: incoming.headers, body: parseBody(raw) };
        requests.push(record);
        response.on('finish', () => {
          record.status = response.statusCode;
        });
        try {
          handle(record, response);
        } catch (error) {
          sendJson(response, 500, { error: { message: `scripted model server: ${(error as Error).message}` } });
        }
      },
      () => sendJson(response, 400, { error: { message: 'unreadable body' } }),
    );
  });
  return { ...(await listenLocally(server)), requests };
}

/**
 * Starts `server` on a free port of 127.0.0.1; `close` ends it with every connection it still has. Keep-alive
 * sockets time out after a second, which would otherwise hold close() open until the client disconnects.
 */
export async function listenLocally(server: Server): Promise<{ readonly url: string; close(): Promise<void> }> {
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function readBody(incoming: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    incoming.on('error', reject);
  });
}

export function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** Starts a `text/event-stream` reply; each `send` writes one `data:` event (with `event:` when named). */
export function eventStream(response: ServerResponse): (data: unknown, event?: string) => void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  return (data, event) => {
    response.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`);
  };
}

/** Runs `send` after `delayMs`, unless the client hangs up first: no timer outlives a test. */
export function later(response: ServerResponse, delayMs: number, send: () => void): void {
  if (delayMs <= 0) return send();
  const timer = setTimeout(send, delayMs);
  response.on('close', () => clearTimeout(timer));
}
