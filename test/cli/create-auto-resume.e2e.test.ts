import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { mam, Sandbox } from '../helpers/sandbox.js';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create('mam-create-resume-');
});
afterEach(async () => {
  await box.dispose();
});

describe('mam create --auto-resume', () => {
  it('records auto_resume (and its text) in the entry; bad text is refused before anything starts', async () => {
    const bin = path.join(box.root, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'claude'), '#!/bin/bash\necho "? for shortcuts"\nwhile IFS= read -r line; do :; done\n');
    await chmod(path.join(bin, 'claude'), 0o755);
    const workspace = path.join(box.root, 'ws');
    await mkdir(workspace, { recursive: true });
    const env = box.env({ PATH: `${bin}:${process.env['PATH']}`, MAM_TMUX_SERVER: box.serverName('ar') });
    const entries = async (): Promise<readonly Record<string, unknown>[]> => parseRegistry(box.registry, await readFile(box.registry, 'utf8').catch(() => '')).entries;

    for (const [flags, error] of [
      [['--auto-resume-text', 'go on'], /--auto-resume-text goes with --auto-resume/],
      [['--auto-resume', '--auto-resume-text', 'go on\nand on'], /--auto-resume-text must be one non-empty line/],
      [['--auto-resume', '--auto-resume-text', '  '], /--auto-resume-text must be one non-empty line/],
    ] as const) {
      const refused = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--registry', box.registry, ...flags], env);
      expect(refused.code, refused.stderr).toBe(64);
      expect(refused.stderr).toMatch(error);
    }
    expect(await entries()).toEqual([]);

    const plain = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--name', 'plain', '--registry', box.registry, '--auto-resume'], env);
    expect(plain.code, plain.stderr).toBe(0);
    const custom = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--name', 'custom', '--registry', box.registry, '--auto-resume', '--auto-resume-text', 'please go on'], env);
    expect(custom.code, custom.stderr).toBe(0);
    const none = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--name', 'none', '--registry', box.registry], env);
    expect(none.code, none.stderr).toBe(0);
    const byName = Object.fromEntries((await entries()).map((entry) => [entry['name'], [entry['auto_resume'], entry['auto_resume_text']]]));
    expect(byName).toEqual({ plain: [true, undefined], custom: [true, 'please go on'], none: [undefined, undefined] });
  });
});
