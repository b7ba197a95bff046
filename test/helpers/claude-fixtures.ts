import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { claudeProjectKey } from '../../src/agents/claude.js';

/** Writes a Claude transcript in the 2.1.x shape (docs/agents.md, 'Claude transcripts') for `cwd` under `home`. */
export async function writeClaudeTranscript(home: string, cwd: string, sessionId: string, options: { at?: Date; extra?: string } = {}): Promise<string> {
  const directory = path.join(home, '.claude', 'projects', claudeProjectKey(cwd));
  await mkdir(directory, { recursive: true });
  const timestamp = (options.at ?? new Date()).toISOString();
  const envelope = { isSidechain: false, userType: 'external', cwd, sessionId, version: '2.1.220' };
  const lines = [
    { type: 'summary', summary: 'fixture', leafUuid: 'a-01' },
    { ...envelope, parentUuid: null, type: 'user', message: { role: 'user', content: 'run the tests' }, uuid: 'u-01', timestamp },
    { ...envelope, parentUuid: 'u-01', type: 'assistant', message: { id: 'msg_1', role: 'assistant', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn' }, uuid: 'a-01', timestamp },
  ];
  const file = path.join(directory, `${sessionId}.jsonl`);
  await writeFile(file, lines.map((line) => JSON.stringify(line)).join('\n') + '\n' + (options.extra ?? ''));
  return file;
}
