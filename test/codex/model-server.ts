import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { eventStream, later, sendJson, startScriptedHttp, type RecordedRequest } from '../helpers/scripted-http.js';

/**
 * A scripted stand-in for the OpenAI Responses API (`POST <base_url>/responses`, streamed as SSE), for driving the
 * real `codex` CLI offline (docs/codex-gemini-harness.md). Only the model is fake: the TUI, its approval dialogs,
 * hooks and rollouts are Codex's own.
 */

/** What the model says: text, one function call (Codex's `exec_command` and friends), or a reply that never ends. */
export type Reply =
  | { readonly text: string; readonly delayMs?: number }
  | { readonly call: { readonly name: string; readonly arguments: Record<string, unknown> }; readonly delayMs?: number }
  | { readonly stall: string };

/**
 * When `trigger` appears in the user's words of the current turn, answer `reply`; the request that carries the
 * output of `reply`'s function call is answered with `then` (default: the text "ok").
 */
export interface ScriptStep {
  readonly trigger: string;
  readonly reply: Reply;
  readonly then?: Reply;
}

export interface InputItem {
  readonly type?: string;
  readonly role?: string;
  readonly content?: unknown;
  readonly call_id?: string;
  readonly output?: unknown;
  readonly [key: string]: unknown;
}

export interface ResponsesBody {
  readonly model?: string;
  readonly input?: InputItem[];
  readonly tools?: unknown[];
  readonly text?: { readonly format?: { readonly name?: string } };
  readonly [key: string]: unknown;
}

export interface ModelServer {
  /** The `base_url` of a model provider in config.toml: `http://127.0.0.1:<port>/v1`. */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** `POST /v1/responses` requests of one kind: `main` (a turn of the conversation) or `title` (thread naming). */
  responses(kind?: 'main' | 'title'): RecordedRequest[];
  close(): Promise<void>;
}

const DEFAULT_REPLY: Reply = { text: 'ok' };
export const TITLE = 'Scripted session';

/** Text of a message's content: a string, or `input_text` / `output_text` parts. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join('\n');
}

/**
 * This turn's input: the user's messages after the model last spoke (an assistant message, a function call or its
 * output), or, when nothing was said since, the function call outputs the request carries back.
 */
function currentTurn(input: readonly InputItem[]): { words: InputItem[]; outputs: InputItem[] } {
  let start = input.length;
  const modelSide = (item: InputItem): boolean => item.role === 'assistant' || item.type === 'function_call' || item.type === 'function_call_output';
  while (start > 0 && !modelSide(input[start - 1]!)) start -= 1;
  const words = input.slice(start).filter((item) => item.role === 'user');
  if (words.length > 0) return { words, outputs: [] };
  let first = start;
  while (first > 0 && input[first - 1]!.type === 'function_call_output') first -= 1;
  return { words: [], outputs: input.slice(first, start) };
}

/**
 * Codex names a new thread with a second, tool-less request whose output format is a JSON schema for `title`
 * (seen in 0.171.0); everything else is a turn.
 */
const kindOf = (body: ResponsesBody): 'main' | 'title' => ((body.tools ?? []).length === 0 && body.text?.format?.name === 'codex_output_schema' ? 'title' : 'main');

export async function startCodexModel(script: readonly ScriptStep[]): Promise<ModelServer> {
  /** call_id we issued → the step that issued it. */
  const issued = new Map<string, ScriptStep>();

  const choose = (body: ResponsesBody, kind: 'main' | 'title'): { reply: Reply; step?: ScriptStep } => {
    if (kind === 'title') return { reply: { text: JSON.stringify({ title: TITLE }) } };
    const { words, outputs } = currentTurn(body.input ?? []);
    for (const output of outputs) {
      const step = output.call_id === undefined ? undefined : issued.get(output.call_id);
      if (step !== undefined) return { reply: step.then ?? DEFAULT_REPLY };
    }
    if (outputs.length > 0) return { reply: DEFAULT_REPLY };
    const said = words.map((item) => textOf(item.content)).join('\n');
    const step = script.find((candidate) => said.includes(candidate.trigger));
    return step === undefined ? { reply: DEFAULT_REPLY } : { reply: step.reply, step };
  };

  const http = await startScriptedHttp((record, response) => {
    if (record.method === 'POST' && record.path === '/v1/responses') {
      const body = (typeof record.body === 'object' && record.body !== null ? record.body : {}) as ResponsesBody;
      const kind = kindOf(body);
      record.kind = kind;
      const chosen = choose(body, kind);
      let reply = chosen.reply;
      if ('call' in reply) {
        const callId = `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
        if (chosen.step !== undefined) issued.set(callId, chosen.step);
        record.reply = reply;
        return later(response, reply.delayMs ?? 0, () => streamCall(response, callId, reply as Extract<Reply, { call: unknown }>));
      }
      record.reply = reply;
      if ('stall' in reply) return stall(response, reply.stall);
      const text = reply.text;
      return later(response, reply.delayMs ?? 0, () => streamText(response, text));
    }
    if (record.method === 'GET' && record.path === '/v1/models') return sendJson(response, 200, { object: 'list', data: [] });
    return sendJson(response, 404, { error: { message: `scripted model server: no ${record.method} ${record.path}` } });
  });

  return {
    baseUrl: `${http.url}/v1`,
    requests: http.requests,
    responses: (kind = 'main') => http.requests.filter((request) => request.path === '/v1/responses' && request.kind === kind),
    close: () => http.close(),
  };
}

const USAGE = { input_tokens: 10, input_tokens_details: null, output_tokens: 5, output_tokens_details: null, total_tokens: 15 };
const responseId = (): string => `resp_${randomUUID().replace(/-/g, '')}`;

function begin(response: ServerResponse): { send: (type: string, data: Record<string, unknown>) => void; id: string } {
  const write = eventStream(response);
  const id = responseId();
  const send = (type: string, data: Record<string, unknown>): void => write({ type, ...data }, type);
  send('response.created', { response: { id } });
  return { send, id };
}

/** created → output_item.added → output_text.delta → output_item.done → completed: what Codex renders as one message. */
function streamText(response: ServerResponse, text: string): void {
  const { send, id } = begin(response);
  const item = { type: 'message', role: 'assistant', id: `msg_${randomUUID().replace(/-/g, '')}`, content: [{ type: 'output_text', text, annotations: [] }] };
  send('response.output_item.added', { output_index: 0, item: { ...item, content: [] } });
  send('response.output_text.delta', { output_index: 0, content_index: 0, item_id: item.id, delta: text });
  send('response.output_item.done', { output_index: 0, item });
  send('response.completed', { response: { id, usage: USAGE } });
  response.end();
}

function streamCall(response: ServerResponse, callId: string, reply: Extract<Reply, { call: unknown }>): void {
  const { send, id } = begin(response);
  const item = { type: 'function_call', id: `fc_${randomUUID().replace(/-/g, '')}`, call_id: callId, name: reply.call.name, arguments: JSON.stringify(reply.call.arguments) };
  send('response.output_item.added', { output_index: 0, item });
  send('response.output_item.done', { output_index: 0, item });
  send('response.completed', { response: { id, usage: USAGE } });
  response.end();
}

/** The start of a text reply, then nothing until the client hangs up: a model still streaming. */
function stall(response: ServerResponse, text: string): void {
  const { send } = begin(response);
  const itemId = `msg_${randomUUID().replace(/-/g, '')}`;
  send('response.output_item.added', { output_index: 0, item: { type: 'message', role: 'assistant', id: itemId, content: [] } });
  send('response.output_text.delta', { output_index: 0, content_index: 0, item_id: itemId, delta: text });
}
