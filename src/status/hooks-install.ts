import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { homeDir } from '../config.js';
import { MamError } from '../errors.js';
import { writeFileAtomic } from '../registry/atomic.js';
import { mamCommand } from '../util/which.js';

/** The Claude hook events `mam hook` listens to (reference §1.5), each registered with matcher `*`. */
export const CLAUDE_HOOK_EVENTS = [
  'SessionStart',
  'UserPromptSubmit',
  'PreToolUse',
  'PermissionRequest',
  'PostToolUse',
  'PostToolUseFailure',
  'Stop',
  'StopFailure',
  'SubagentStart',
  'SubagentStop',
  'SessionEnd',
] as const;

export const HOOK_TIMEOUT_SECONDS = 10;

export type Scope = 'user' | 'project';

export interface HookChange {
  readonly added: number;
  readonly removed: number;
  readonly unchanged: number;
}

type Json = unknown;
type JsonObject = Record<string, Json>;

/**
 * A hook entry is ours when its command runs the mam CLI's `hook --agent claude`: `mam hook …`
 * (bare or by path) or `<node> …/cli/main.js hook …`. Nothing else is ever touched.
 */
const OURS = /(?:(?:^|[\s/'"])mam|\/cli\/main\.js)['"]? hook --agent claude(?:\s|$)/;

export function isOurCommand(command: unknown): boolean {
  return typeof command === 'string' && command.includes(' hook --agent claude') && OURS.test(command);
}

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOurEntry(entry: Json): boolean {
  return isObject(entry) && isOurCommand(entry['command']);
}

function ourGroup(command: string): JsonObject {
  return { matcher: '*', hooks: [{ type: 'command', command, timeout: HOOK_TIMEOUT_SECONDS }] };
}

/** Throws when the settings hold a shape we would have to guess about; the file is then left alone. */
function checkShape(settings: Json, file: string): asserts settings is JsonObject {
  if (!isObject(settings)) throw new MamError(`${file}: settings is not a JSON object; left unchanged`);
  const hooks = settings['hooks'];
  if (hooks === undefined) return;
  if (!isObject(hooks)) throw new MamError(`${file}: "hooks" is not an object; left unchanged`);
  for (const event of CLAUDE_HOOK_EVENTS) {
    if (hooks[event] !== undefined && !Array.isArray(hooks[event])) throw new MamError(`${file}: "hooks.${event}" is not an array; left unchanged`);
  }
}

/**
 * Removes our entries from one event's matcher groups, dropping a group only when it became empty
 * because of us. Returns the new groups and how many entries were removed.
 */
function stripOurs(groups: readonly Json[]): { groups: Json[]; removed: number } {
  let removed = 0;
  const kept: Json[] = [];
  for (const group of groups) {
    if (!isObject(group) || !Array.isArray(group['hooks'])) {
      kept.push(group);
      continue;
    }
    const entries = group['hooks'] as Json[];
    const others = entries.filter((entry) => !isOurEntry(entry));
    const count = entries.length - others.length;
    if (count === 0) {
      kept.push(group);
      continue;
    }
    removed += count;
    if (others.length > 0) kept.push({ ...group, hooks: others });
  }
  return { groups: kept, removed };
}

/** Pure: the settings with our hooks installed for every event, and what changed. Never mutates its input. */
export function mergeHooks(settings: JsonObject, command: string): { settings: JsonObject; change: HookChange } {
  const hooks: JsonObject = isObject(settings['hooks']) ? { ...settings['hooks'] } : {};
  let added = 0;
  let removed = 0;
  let unchanged = 0;
  const wanted = JSON.stringify(ourGroup(command));
  for (const event of CLAUDE_HOOK_EVENTS) {
    const groups = Array.isArray(hooks[event]) ? (hooks[event] as Json[]) : [];
    const oursCount = groups.reduce<number>(
      (sum, group) => sum + (isObject(group) && Array.isArray(group['hooks']) ? (group['hooks'] as Json[]).filter(isOurEntry).length : 0),
      0,
    );
    if (oursCount === 1 && groups.some((group) => JSON.stringify(group) === wanted)) {
      unchanged++;
      continue;
    }
    const stripped = stripOurs(groups);
    removed += stripped.removed;
    hooks[event] = [...stripped.groups, ourGroup(command)];
    added++;
  }
  if (added === 0) return { settings, change: { added, removed, unchanged } };
  return { settings: { ...settings, hooks }, change: { added, removed, unchanged } };
}

/**
 * Pure: the settings without our hooks. An event key (then the `hooks` key) goes only when it became
 * empty because of us; every other key keeps its place.
 */
export function unmergeHooks(settings: JsonObject): { settings: JsonObject; change: HookChange } {
  if (!isObject(settings['hooks'])) return { settings, change: { added: 0, removed: 0, unchanged: 0 } };
  const hooks: JsonObject = { ...settings['hooks'] };
  let removed = 0;
  for (const event of Object.keys(hooks)) {
    const groups = hooks[event];
    if (!Array.isArray(groups)) continue;
    const stripped = stripOurs(groups);
    if (stripped.removed === 0) continue;
    removed += stripped.removed;
    if (stripped.groups.length === 0) delete hooks[event];
    else hooks[event] = stripped.groups;
  }
  if (removed === 0) return { settings, change: { added: 0, removed: 0, unchanged: 0 } };
  const next: JsonObject = { ...settings };
  if (Object.keys(hooks).length === 0) delete next['hooks'];
  else next['hooks'] = hooks;
  return { settings: next, change: { added: 0, removed, unchanged: 0 } };
}

/** `~/.claude/settings.json` (or `$CLAUDE_CONFIG_DIR/settings.json`) for user scope, `<project>/.claude/settings.json` for project scope. */
export function claudeSettingsFile(scope: Scope, env: NodeJS.ProcessEnv, projectDir: string): string {
  if (scope === 'project') return path.join(projectDir, '.claude', 'settings.json');
  return path.join(env['CLAUDE_CONFIG_DIR'] || path.join(homeDir(env), '.claude'), 'settings.json');
}

/** `mam hook --agent claude` when `mam` is on PATH, else `<node> <…/dist/cli/main.js> hook --agent claude`. */
export function hookCommand(env: NodeJS.ProcessEnv, cliMain: string, nodePath = process.execPath): string {
  return `${mamCommand(env, cliMain, nodePath)} hook --agent claude`;
}

async function readSettings(file: string): Promise<{ settings: JsonObject; exists: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: {}, exists: false };
    throw new MamError(`${file}: cannot read (${(error as Error).message})`, { cause: error });
  }
  if (text.trim() === '') return { settings: {}, exists: true };
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MamError(`${file}: not valid JSON (${(error as Error).message}); left unchanged`, { cause: error });
  }
  checkShape(parsed, file);
  return { settings: parsed, exists: true };
}

async function writeSettings(file: string, settings: JsonObject): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(settings, null, 2)}\n`);
}

/** Installs our hooks into `file`; writes only when something changed. */
export async function installHooks(file: string, command: string): Promise<HookChange> {
  const { settings } = await readSettings(file);
  const result = mergeHooks(settings, command);
  if (result.change.added > 0 || result.change.removed > 0) await writeSettings(file, result.settings);
  return result.change;
}

/** Removes exactly our hooks from `file`; a missing file has nothing to remove. */
export async function uninstallHooks(file: string): Promise<HookChange> {
  const { settings, exists } = await readSettings(file);
  if (!exists) return { added: 0, removed: 0, unchanged: 0 };
  const result = unmergeHooks(settings);
  if (result.change.removed > 0) await writeSettings(file, result.settings);
  return result.change;
}
