import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { homeDir } from '../config.js';
import { MamError, UsageError } from '../util/errors.js';
import { parseFlags, writeLine, type Command } from './command.js';

const PACKAGE_SKILLS = fileURLToPath(new URL('../../skills/', import.meta.url));

const HELP = `Usage: mam skills install [--hermes-home DIR] [--profile P] [--json]

Copy every skill folder this package ships (each with a SKILL.md) into a Hermes home's skills/ directory:
<hermes home>/skills/<name>/, or <hermes home>/profiles/<P>/skills/<name>/ with --profile (the dispatcher runs a
card's worker with that profile's home, so a monitor profile needs the skills there). Idempotent: files that are
already identical are left alone, and the report says what was added, updated or unchanged.

Options:
  --hermes-home DIR   the Hermes home (default $HERMES_HOME, else ~/.hermes)
  --profile P         install into that profile's home instead of the root
  --json              print the report as JSON`;

type Change = 'added' | 'updated' | 'unchanged';

export const skillsCommand: Command = {
  help: HELP,
  subcommands: { install: HELP },
  async run(context) {
    const [sub, ...rest] = context.argv;
    if (sub !== 'install') throw new UsageError('skills: the only subcommand is `install`; see `mam skills --help`');
    const { values } = parseFlags('skills install', rest, { 'hermes-home': { type: 'string' }, profile: { type: 'string' }, json: { type: 'boolean' } });
    if (values.profile !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.profile)) {
      throw new UsageError(`skills install: --profile ${JSON.stringify(values.profile)} is not a profile name`);
    }
    const home = path.resolve(context.cwd, values['hermes-home'] ?? context.env['HERMES_HOME'] ?? path.join(homeDir(context.env), '.hermes'));
    const target = path.join(values.profile ? path.join(home, 'profiles', values.profile) : home, 'skills');
    const report: { skill: string; change: Change; files: number }[] = [];
    for (const skill of await packageSkills()) {
      const changes = await copyTree(path.join(PACKAGE_SKILLS, skill), path.join(target, skill));
      const change: Change = changes.every((item) => item === 'unchanged') ? 'unchanged' : changes.every((item) => item === 'added') ? 'added' : 'updated';
      report.push({ skill, change, files: changes.length });
    }
    if (values.json) writeLine(context.stdout, JSON.stringify({ target, skills: report }));
    else {
      for (const item of report) writeLine(context.stdout, `${item.change.padEnd(9)} ${item.skill}`);
      writeLine(context.stdout, `${report.length} skill${report.length === 1 ? '' : 's'} in ${target}`);
    }
    return 0;
  },
};

async function packageSkills(): Promise<string[]> {
  const entries = await readdir(PACKAGE_SKILLS, { withFileTypes: true }).catch(() => {
    throw new MamError(`no skills folder at ${PACKAGE_SKILLS}: is the package installed completely?`);
  });
  const skills: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory() && (await stat(path.join(PACKAGE_SKILLS, entry.name, 'SKILL.md')).catch(() => undefined))) skills.push(entry.name);
  }
  return skills.sort();
}

async function copyTree(from: string, to: string): Promise<Change[]> {
  await mkdir(to, { recursive: true });
  const changes: Change[] = [];
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const destination = path.join(to, entry.name);
    if (entry.isDirectory()) {
      changes.push(...(await copyTree(source, destination)));
      continue;
    }
    if (!entry.isFile()) continue;
    const content = await readFile(source);
    const existing = await readFile(destination).catch(() => undefined);
    if (existing?.equals(content)) {
      changes.push('unchanged');
      continue;
    }
    await writeFile(destination, content, { mode: (await stat(source)).mode & 0o777 });
    changes.push(existing === undefined ? 'added' : 'updated');
  }
  return changes;
}
