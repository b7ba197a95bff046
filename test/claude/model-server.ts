import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { listenLocally, parseBody, readBody, type RecordedRequest as HttpRequest } from '../helpers/scripted-http.js';

/**
 * A scripted stand-in for the Anthropic Messages API, for driving the real `claude` CLI offline
 * (docs/claude-harness.md). Only the model is fake: the client, its TUI,
 * dialogs, hooks and transcripts are real.
 */

/** What the model says: plain text (`end_turn`) or one tool call (`tool_use`). */
export type Reply =
  | { readonly text: string; readonly delayMs?: number }
  | { readonly toolUse: { readonly name: string; readonly input: Record<string, unknown>; readonly id?: string }; readonly delayMs?: number }
  /** Streams `stall` as the start of a text reply, then never finishes: the model "still streaming" until the client hangs up. */
  | { readonly stall: string }
  /** An API error instead of a reply: `status` with `{type: "error", error: {type, message}}` and these headers. */
  | { readonly error: ApiError };

/** An error response as the Anthropic API sends one (docs/claude-harness.md, 'Usage limits'). */
export interface ApiError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The 429 the API answers a usage limit with: `rate_limit_error`, the reset as epoch seconds after a `|` in the
 * message, `retry-after` in seconds, the `anthropic-ratelimit-unified-*` headers, and `x-should-retry: false` (the
 * client gives up at once instead of retrying).
 */
export function usageLimitError(resetMs: number, now: number = Date.now()): ApiError {
  const reset = Math.ceil(resetMs / 1000);
  return {
    status: 429,
    type: 'rate_limit_error',
    message: `Claude AI usage limit reached|${reset}`,
    headers: {
      'retry-after': String(Math.max(1, reset - Math.floor(now / 1000))),
      'anthropic-ratelimit-unified-status': 'rejected',
      'anthropic-ratelimit-unified-reset': String(reset),
      'anthropic-ratelimit-unified-representative-claim': 'five_hour',
      'x-should-retry': 'false',
    },
  };
}

/**
 * One scripted exchange: when `trigger` appears in the current user turn, answer with `reply`. If `reply` is a
 * tool call, the request carrying its `tool_result` is answered with `then` (default: the text "ok").
 */
export interface ScriptStep {
  readonly trigger: string;
  readonly reply: Reply;
  readonly then?: Reply;
}

/** The parsed body of a `POST /v1/messages`, as far as the harness cares. */
export interface MessagesBody {
  readonly model?: string;
  readonly stream?: boolean;
  readonly tools?: unknown[];
  readonly system?: unknown;
  readonly messages?: ApiMessage[];
  readonly [key: string]: unknown;
}

export interface ApiMessage {
  readonly role: 'user' | 'assistant';
  readonly content: string | ContentBlock[];
}

export interface ContentBlock {
  readonly type: string;
  readonly text?: string;
  readonly id?: string;
  readonly tool_use_id?: string;
  readonly [key: string]: unknown;
}

/** Every request the server saw, in arrival order: scripted-http.ts's record, with Claude's kinds and replies. */
export interface RecordedRequest extends Omit<HttpRequest, 'kind' | 'reply'> {
  /** For `POST /v1/messages`: `title` (session-title generation), `main` (a conversation turn) or `other`. */
  readonly kind?: 'title' | 'main' | 'other';
  /** What the server answered to a messages request. */
  reply?: Reply;
}

/** A messages request as handed to a scripting function. */
export interface MessagesRequest {
  readonly kind: 'title' | 'main' | 'other';
  readonly body: MessagesBody;
  /** All text of the current user turn (the messages after the last assistant message), joined by newlines. */
  readonly turnText: string;
  /** `tool_result` blocks of the last message, if any. */
  readonly toolResults: ContentBlock[];
}

export type ScriptFunction = (request: MessagesRequest) => Reply | undefined;

export interface ModelServer {
  /** Base URL for `ANTHROPIC_BASE_URL`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Requests to `/v1/messages` of the given kind (default: the main conversation turns). */
  messages(kind?: 'title' | 'main' | 'other'): RecordedRequest[];
  close(): Promise<void>;
}

const DEFAULT_REPLY: Reply = { text: 'ok' };
/** The title request asks for JSON (`output_config.format` is a `json_schema` with a `title` string). */
export const TITLE = 'Scripted session';
const TITLE_REPLY: Reply = { text: JSON.stringify({ title: TITLE }) };

export function textOf(content: string | ContentBlock[] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((block) => {
      if (typeof block.text === 'string') return block.text;
      if (block.type === 'tool_result') {
        const inner = block['content'];
        return typeof inner === 'string' ? inner : Array.isArray(inner) ? textOf(inner as ContentBlock[]) : '';
      }
      return '';
    })
    .join('\n');
}

/** The messages after the last assistant message: what the user (or the tool runner) just said. */
function currentTurn(messages: readonly ApiMessage[]): ApiMessage[] {
  let start = messages.length;
  while (start > 0 && messages[start - 1]!.role !== 'assistant') start -= 1;
  return messages.slice(start);
}

function blocks(message: ApiMessage | undefined): ContentBlock[] {
  if (message === undefined || typeof message.content === 'string') return [];
  return message.content;
}

function classify(body: MessagesBody): 'title' | 'main' | 'other' {
  const messages = body.messages ?? [];
  const first = messages[0];
  const firstText = first === undefined ? '' : typeof first.content === 'string' ? first.content : (first.content.find((block) => typeof block.text === 'string')?.text ?? '');
  if (body.tools === undefined || body.tools.length === 0) {
    if (firstText.trimStart().startsWith('<session>')) return 'title';
    return 'other';
  }
  return 'main';
}

export async function startModelServer(script: readonly ScriptStep[] | ScriptFunction = []): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  /** tool_use id we issued → the step that issued it. */
  const issued = new Map<string, ScriptStep>();

  /** The reply, and the step whose tool call it is (to answer that call's `tool_result` with `then`). */
  const scripted = (request: MessagesRequest): { reply: Reply; step?: ScriptStep } => {
    if (typeof script === 'function') return { reply: script(request) ?? (request.kind === 'title' ? TITLE_REPLY : DEFAULT_REPLY) };
    if (request.kind === 'title') return { reply: TITLE_REPLY };
    if (request.kind === 'other') return { reply: DEFAULT_REPLY };
    for (const result of request.toolResults) {
      const step = result.tool_use_id === undefined ? undefined : issued.get(result.tool_use_id);
      if (step !== undefined) return { reply: step.then ?? DEFAULT_REPLY };
    }
    if (request.toolResults.length > 0) return { reply: DEFAULT_REPLY };
    const step = script.find((candidate) => request.turnText.includes(candidate.trigger));
    return step === undefined ? { reply: DEFAULT_REPLY } : { reply: step.reply, step };
  };

  const handleMessages = (body: MessagesBody, record: RecordedRequest, response: ServerResponse): void => {
    const messages = body.messages ?? [];
    const kind = record.kind ?? 'other';
    const turn = currentTurn(messages);
    const request: MessagesRequest = {
      kind,
      body,
      turnText: turn.map((message) => textOf(message.content)).join('\n'),
      toolResults: blocks(messages[messages.length - 1]).filter((block) => block.type === 'tool_result'),
    };
    const chosen = scripted(request);
    let reply = chosen.reply;
    if ('toolUse' in reply) {
      const id = reply.toolUse.id ?? `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
      reply = { toolUse: { ...reply.toolUse, id } };
      if (chosen.step !== undefined) issued.set(id, chosen.step);
    }
    record.reply = reply;
    const model = typeof body.model === 'string' ? body.model : 'claude-scripted';
    const send = (): void => {
      if ('error' in reply) return sendJson(response, reply.error.status, { type: 'error', error: { type: reply.error.type, message: reply.error.message }, request_id: requestId() }, reply.error.headers);
      if ('stall' in reply) return stallReply(response, model, reply.stall);
      if (body.stream === true) streamReply(response, model, reply);
      else jsonReply(response, model, reply);
    };
    const delay = 'delayMs' in reply ? (reply.delayMs ?? 0) : 0;
    if (delay > 0) {
      // A client that hangs up first (Esc before the reply) gets nothing, and no timer outlives the test.
      const timer = setTimeout(send, delay);
      response.on('close', () => clearTimeout(timer));
    } else send();
  };

  const server = createServer((incoming, response) => {
    void readBody(incoming).then(
      (raw) => {
        const url = incoming.url ?? '/';
        const path = url.split('?')[0] ?? '/';
        const method = incoming.method ?? 'GET';
        const body = parseBody(raw);
        const isMessages = method === 'POST' && path === '/v1/messages';
        const record: RecordedRequest = {
          method,
          path,
          url,
          headers: incoming.headers,
          body,
          ...(isMessages ? { kind: classify((body ?? {}) as MessagesBody) } : {}),
        };
        requests.push(record);
        response.on('finish', () => {
          record.status = response.statusCode;
        });
        if (isMessages) return handleMessages((body ?? {}) as MessagesBody, record, response);
        if (method === 'POST' && path === '/v1/messages/count_tokens') return sendJson(response, 200, { input_tokens: 1000 });
        if (method === 'HEAD' || (method === 'GET' && (path === '/' || path === ''))) return sendJson(response, 200, {});
        return sendJson(response, 404, { type: 'error', error: { type: 'not_found_error', message: `scripted model server: no ${method} ${path}` } });
      },
      () => sendJson(response, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'unreadable body' } }),
    );
  });
  return {
    ...(await listenLocally(server)),
    requests,
    messages: (kind = 'main') => requests.filter((request) => request.path === '/v1/messages' && request.kind === kind),
  };
}

function sendJson(response: ServerResponse, status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': requestId() });
  response.end(text);
}

const requestId = (): string => `req_scripted_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
const messageId = (): string => `msg_scripted_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
const USAGE = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

function contentBlock(reply: Reply): ContentBlock {
  if ('stall' in reply) return { type: 'text', text: reply.stall };
  if ('text' in reply) return { type: 'text', text: reply.text };
  if ('error' in reply) return { type: 'text', text: reply.error.message };
  return { type: 'tool_use', id: reply.toolUse.id, name: reply.toolUse.name, input: reply.toolUse.input };
}

const stopReason = (reply: Reply): string => ('text' in reply ? 'end_turn' : 'tool_use');

function jsonReply(response: ServerResponse, model: string, reply: Reply): void {
  sendJson(response, 200, {
    id: messageId(),
    type: 'message',
    role: 'assistant',
    model,
    content: [contentBlock(reply)],
    stop_reason: stopReason(reply),
    stop_sequence: null,
    usage: USAGE,
  });
}

function stallReply(response: ServerResponse, model: string, text: string): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': requestId() });
  response.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: messageId(), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...USAGE, output_tokens: 1 } } })}\n\n`);
  response.write(`event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`);
  response.write(`event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })}\n\n`);
  // Keep-alive pings, as the real API sends while a long reply is generated; the stream never ends by itself.
  const ping = setInterval(() => response.write(`event: ping\ndata: {"type":"ping"}\n\n`), 1_000);
  response.on('close', () => clearInterval(ping));
}

/**
 * The SSE sequence the client accepts (docs/claude-harness.md): message_start → block start/delta/stop →
 * message_delta → message_stop.
 */
function streamReply(response: ServerResponse, model: string, reply: Reply): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': requestId() });
  const send = (event: string, data: unknown): void => {
    response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  send('message_start', {
    type: 'message_start',
    message: { id: messageId(), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...USAGE, output_tokens: 1 } },
  });
  if ('text' in reply) {
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: reply.text } });
  } else if ('toolUse' in reply) {
    const { id, name, input } = reply.toolUse;
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id, name, input: {} } });
    send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) } });
  }
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  send('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason(reply), stop_sequence: null }, usage: { output_tokens: USAGE.output_tokens } });
  send('message_stop', { type: 'message_stop' });
  response.end();
}
