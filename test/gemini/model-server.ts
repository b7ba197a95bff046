import type { ServerResponse } from 'node:http';
import { eventStream, later, sendJson, startScriptedHttp, type RecordedRequest } from '../helpers/scripted-http.js';

/**
 * A scripted stand-in for the Gemini API (`POST /v1beta/models/<model>:streamGenerateContent?alt=sse` and
 * `:generateContent`), for driving the real `gemini` CLI offline (docs/codex-gemini-harness.md). Only the model is
 * fake: the TUI, its confirmation dialogs, hooks and chat files are Gemini CLI's own.
 */

/** What the model says: text, one function call (`run_shell_command`, `write_file`, …), or a reply that never ends. */
export type Reply =
  | { readonly text: string; readonly delayMs?: number }
  | { readonly call: { readonly name: string; readonly args: Record<string, unknown> }; readonly delayMs?: number }
  | { readonly stall: string };

/**
 * When `trigger` appears in the user's words of the current turn, answer `reply`; the request that carries the
 * response to `reply`'s function call is answered with `then` (default: the text "ok").
 */
export interface ScriptStep {
  readonly trigger: string;
  readonly reply: Reply;
  readonly then?: Reply;
}

interface Part {
  readonly text?: string;
  readonly functionCall?: { readonly name?: string; readonly id?: string };
  readonly functionResponse?: { readonly name?: string; readonly id?: string };
}

interface Content {
  readonly role?: string;
  readonly parts?: Part[];
}

export interface GenerateBody {
  readonly contents?: Content[];
  readonly tools?: unknown[];
  readonly generationConfig?: { readonly responseMimeType?: string; readonly responseJsonSchema?: Schema; readonly responseSchema?: Schema };
  readonly [key: string]: unknown;
}

interface Schema {
  readonly type?: string;
  readonly properties?: Record<string, Schema>;
  readonly required?: string[];
  readonly enum?: unknown[];
  readonly items?: Schema;
}

export interface ModelServer {
  /** For `GOOGLE_GEMINI_BASE_URL`: `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Model requests of one kind: `main` (a conversation turn, with tools) or `json` (the CLI's own helpers: routing, checks). */
  calls(kind?: 'main' | 'json'): RecordedRequest[];
  close(): Promise<void>;
}

const DEFAULT_REPLY: Reply = { text: 'ok' };

/**
 * The CLI's helper requests (the model router's complexity score, the next-speaker check …) ask for JSON by schema:
 * the smallest value that fits it. A complexity score of 1 routes to the fast model, which is all a script needs.
 */
function fromSchema(schema: Schema | undefined): unknown {
  switch (schema?.type?.toUpperCase()) {
    case 'OBJECT':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, value]) => [key, fromSchema(value)]));
    case 'ARRAY':
      return [];
    case 'INTEGER':
    case 'NUMBER':
      return 1;
    case 'BOOLEAN':
      return false;
    case 'STRING':
      return schema.enum?.[0] ?? 'scripted';
    default:
      return null;
  }
}

/**
 * This turn's input: the user's text parts after the model last spoke, or, when the last user content holds function
 * responses, those (a tool ran).
 */
function currentTurn(contents: readonly Content[]): { words: string; responses: Part[] } {
  const last = contents.at(-1);
  const responses = (last?.role === 'user' ? (last.parts ?? []) : []).filter((part) => part.functionResponse !== undefined);
  if (responses.length > 0) return { words: '', responses };
  let start = contents.length;
  while (start > 0 && contents[start - 1]!.role !== 'model') start -= 1;
  const words = contents
    .slice(start)
    .flatMap((content) => content.parts ?? [])
    .map((part) => part.text ?? '')
    .join('\n');
  return { words, responses: [] };
}

let nextCall = 0;

export async function startGeminiModel(script: readonly ScriptStep[]): Promise<ModelServer> {
  /** Function calls we issued, newest last, with the step that issued each. */
  const issued: { id: string; name: string; step: ScriptStep }[] = [];

  const choose = (body: GenerateBody): { reply: Reply; step?: ScriptStep } => {
    const { words, responses } = currentTurn(body.contents ?? []);
    for (const { functionResponse } of responses) {
      // By the call's id, which the CLI hands back; else by the tool's name, newest call first.
      const call = issued.find((candidate) => candidate.id === functionResponse?.id) ?? issued.findLast((candidate) => candidate.name === functionResponse?.name);
      if (call !== undefined) return { reply: call.step.then ?? DEFAULT_REPLY };
    }
    if (responses.length > 0) return { reply: DEFAULT_REPLY };
    const step = script.find((candidate) => words.includes(candidate.trigger));
    return step === undefined ? { reply: DEFAULT_REPLY } : { reply: step.reply, step };
  };

  const http = await startScriptedHttp((record, response) => {
    const match = /^\/v1(?:beta)?\/models\/([^/:]+):(streamGenerateContent|generateContent|countTokens)$/.exec(record.path);
    if (record.method !== 'POST' || !match) return sendJson(response, 404, { error: { code: 404, message: `scripted model server: no ${record.method} ${record.path}`, status: 'NOT_FOUND' } });
    const body = (typeof record.body === 'object' && record.body !== null ? record.body : {}) as GenerateBody;
    if (match[2] === 'countTokens') return sendJson(response, 200, { totalTokens: 100 });
    const stream = match[2] === 'streamGenerateContent';
    const config = body.generationConfig;
    if (config?.responseMimeType === 'application/json') {
      record.kind = 'json';
      const text = JSON.stringify(fromSchema(config.responseJsonSchema ?? config.responseSchema));
      record.reply = { text };
      return answer(response, stream, [{ text }]);
    }
    record.kind = 'main';
    const chosen = choose(body);
    const reply = chosen.reply;
    record.reply = reply;
    if ('stall' in reply) return stall(response, reply.stall);
    if ('call' in reply) {
      nextCall += 1;
      const id = `scripted-call-${nextCall}`;
      if (chosen.step !== undefined) issued.push({ id, name: reply.call.name, step: chosen.step });
      return later(response, reply.delayMs ?? 0, () => answer(response, stream, [{ functionCall: { id, name: reply.call.name, args: reply.call.args } }]));
    }
    return later(response, reply.delayMs ?? 0, () => answer(response, stream, [{ text: reply.text }]));
  });

  return {
    url: http.url,
    requests: http.requests,
    calls: (kind = 'main') => http.requests.filter((request) => request.kind === kind),
    close: () => http.close(),
  };
}

const USAGE = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };
const candidate = (parts: unknown[], finished: boolean): unknown => ({
  candidates: [{ content: { role: 'model', parts }, index: 0, ...(finished ? { finishReason: 'STOP' } : {}) }],
  usageMetadata: USAGE,
  modelVersion: 'scripted',
});

/** One `GenerateContentResponse`: as JSON, or as the single event of an SSE stream. */
function answer(response: ServerResponse, stream: boolean, parts: unknown[]): void {
  if (!stream) return sendJson(response, 200, candidate(parts, true));
  eventStream(response)(candidate(parts, true));
  response.end();
}

/** The start of a text reply, then nothing until the client hangs up: a model still streaming. */
function stall(response: ServerResponse, text: string): void {
  eventStream(response)(candidate([{ text }], false));
}
