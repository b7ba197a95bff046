import { mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { AGENT_KINDS, agentKind, artifactRoots, type AgentHooks, type AgentKind, type ArtifactRoots, type HookScope } from '../agents/index.js';
import { homeDir } from '../config.js';
import { MamError } from '../util/errors.js';
import { writeFileAtomic } from '../registry/atomic.js';
import { packageCommand } from '../util/which.js';
import { joinWords } from '../util/shell-words.js';
import { APPROVAL_EVENT } from './spool-file.js';

export type Scope = HookScope;

type Json = unknown;
type JsonObject = Record<string, Json>;

/**
 * An agent kind whose module declares hooks (`hooks` in src/agents/<agent>.ts: where its hook settings live, which
 * of its events `mam hook` listens to and by what names, the shape of one hook group), so adding an agent with
 * hooks touches that file alone. Only install/uninstall load this: `mam hook`, which runs on every agent event and
 * must start fast, imports neither this module nor the agent modules.
 */
export type HookTarget = AgentKind & { readonly hooks: AgentHooks };

/** Written into every group; each agent's `group` decides the unit (Gemini's are milliseconds). */
export const HOOK_TIMEOUT_SECONDS = 10;

const hasHooks = (kind: AgentKind): kind is HookTarget => kind.hooks !== undefined;

/** The agents with hooks, in table order (the order `--agent all` installs in). */
export function hookAgents(): string[] {
  return AGENT_KINDS.filter(hasHooks).map((kind) => kind.id);
}

export function isHookAgent(agent: string): boolean {
  const kind = agentKind(agent);
  return kind !== undefined && hasHooks(kind);
}

/** The hook target of an agent `isHookAgent` accepted. */
export function hookTarget(agent: string): HookTarget {
  const kind = agentKind(agent);
  if (!kind || !hasHooks(kind)) throw new MamError(`${agent} has no hooks mam can install`);
  return kind;
}

const roots = (env: NodeJS.ProcessEnv): ArtifactRoots => artifactRoots(env, homeDir(env));

/** The settings file `target`'s hooks go in for `scope`, with the environment's roots. */
export function hookSettingsFile(target: HookTarget, scope: Scope, env: NodeJS.ProcessEnv, projectDir: string): string {
  return target.hooks.settingsFile(scope, roots(env), projectDir);
}

/** What else the agent needs before it runs hooks at all, as lines for the user (none when ready). */
export async function hookReadiness(target: HookTarget, env: NodeJS.ProcessEnv): Promise<string[]> {
  return (await target.hooks.readiness?.(roots(env))) ?? [];
}

/** The one matcher group we add for `event`. */
/**
 * The fast hook is told the events a reader of status looks at before the watcher records them (it names the spool
 * file after the event: src/facts/pending-approval.ts); every other event, and the Node hook, run the command as is.
 */
export function eventCommand(command: string, event: string): string {
  return event === APPROVAL_EVENT && FAST_HOOK.test(command) ? `${command} --event ${event}` : command;
}
const FAST_HOOK = /\/cli\/mam-hook\.sh['"]? --agent /;
const groupOf = (target: HookTarget, command: string, event: string): JsonObject => target.hooks.group(eventCommand(command, event), HOOK_TIMEOUT_SECONDS, event);

export interface HookChange {
  readonly added: number;
  readonly removed: number;
  readonly unchanged: number;
}

/**
 * A hook entry is ours when its command runs mam's hook for `<agent>`: the fast hook (`/bin/sh …/cli/mam-hook.sh
 * --agent …`), `mam-hook --agent …` or `mam hook --agent …` (bare or by path), `<node> …/cli/hook.cjs --agent …` or
 * `<node> …/cli/main.js hook --agent …`. Nothing else is ever touched.
 */
export function isOurCommand(command: unknown, agent: string): boolean {
  if (typeof command !== 'string' || !command.includes(`--agent ${agent}`)) return false;
  // Today's `mam-hook` / `…/cli/hook.cjs`, and the `mam hook` / `…/cli/main.js hook` that earlier versions installed.
  return new RegExp(`(?:(?:^|[\\s/'"])mam['"]? hook|/cli/main\\.js['"]? hook|(?:^|[\\s/'"])mam-hook['"]?|/cli/hook\\.cjs['"]?|/cli/mam-hook\\.sh['"]?) --agent ${agent}(?:\\s|$)`).test(command);
}

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws when the settings hold a shape we would have to guess about; the file is then left alone. */
function checkShape(settings: Json, file: string, target: HookTarget): asserts settings is JsonObject {
  if (!isObject(settings)) throw new MamError(`${file}: settings is not a JSON object; left unchanged (fix the file, then run again)`);
  const hooks = settings['hooks'];
  if (hooks === undefined) return;
  if (!isObject(hooks)) throw new MamError(`${file}: "hooks" is not an object; left unchanged (fix the file, then run again)`);
  for (const event of target.hooks.events) {
    if (hooks[event] !== undefined && !Array.isArray(hooks[event])) throw new MamError(`${file}: "hooks.${event}" is not an array; left unchanged (fix the file, then run again)`);
  }
}

/**
 * Removes our entries from one event's matcher groups, dropping a group only when it became empty
 * because of us. Returns the new groups and how many entries were removed.
 */
function stripOurs(groups: readonly Json[], agent: string): { groups: Json[]; removed: number } {
  let removed = 0;
  const kept: Json[] = [];
  for (const group of groups) {
    if (!isObject(group) || !Array.isArray(group['hooks'])) {
      kept.push(group);
      continue;
    }
    const entries = group['hooks'] as Json[];
    const others = entries.filter((entry) => !(isObject(entry) && isOurCommand(entry['command'], agent)));
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

function oursIn(groups: readonly Json[], agent: string): number {
  return groups.reduce<number>(
    (sum, group) => sum + (isObject(group) && Array.isArray(group['hooks']) ? (group['hooks'] as Json[]).filter((entry) => isObject(entry) && isOurCommand(entry['command'], agent)).length : 0),
    0,
  );
}

/** Pure: the settings with our hooks installed for every event, and what changed. Never mutates its input. */
export function mergeHooks(target: HookTarget, settings: JsonObject, command: string): { settings: JsonObject; change: HookChange } {
  const hooks: JsonObject = isObject(settings['hooks']) ? { ...settings['hooks'] } : {};
  let added = 0;
  let removed = 0;
  let unchanged = 0;
  for (const event of target.hooks.events) {
    const wanted = JSON.stringify(groupOf(target, command, event));
    const groups = Array.isArray(hooks[event]) ? (hooks[event] as Json[]) : [];
    if (oursIn(groups, target.id) === 1 && groups.some((group) => JSON.stringify(group) === wanted)) {
      unchanged++;
      continue;
    }
    const stripped = stripOurs(groups, target.id);
    removed += stripped.removed;
    hooks[event] = [...stripped.groups, groupOf(target, command, event)];
    added++;
  }
  if (added === 0) return { settings, change: { added, removed, unchanged } };
  return { settings: { ...settings, hooks }, change: { added, removed, unchanged } };
}

/**
 * Pure: the settings without our hooks. An event key (then the `hooks` key) goes only when it became
 * empty because of us; every other key keeps its place.
 */
export function unmergeHooks(target: HookTarget, settings: JsonObject): { settings: JsonObject; change: HookChange } {
  if (!isObject(settings['hooks'])) return { settings, change: { added: 0, removed: 0, unchanged: 0 } };
  const hooks: JsonObject = { ...settings['hooks'] };
  let removed = 0;
  for (const event of Object.keys(hooks)) {
    const groups = hooks[event];
    if (!Array.isArray(groups)) continue;
    const stripped = stripOurs(groups, target.id);
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

/**
 * What an agent's hook runs: `mam-hook --agent <agent>` when `mam-hook` is on PATH, else `<node> <…/dist/cli/hook.cjs>
 * --agent <agent>`. `mam-hook` is `mam hook` bundled into one CommonJS file, which starts ~10 ms sooner on every
 * agent event (bench/hook.bench.ts).
 */
export function hookCommand(env: NodeJS.ProcessEnv, hookEntry: string, agent: string, nodePath = process.execPath): string {
  return `${packageCommand('mam-hook', env, hookEntry, nodePath)} --agent ${agent}`;
}

/**
 * What an agent's hook runs in the fast form, the default (docs/status.md, 'The fast hook'): `/bin/sh <…/dist/cli/
 * mam-hook.sh> --agent <agent> --node <node>`, which spools the payload for the watcher and exits — no Node start on
 * the agent's path (bench/hook.bench.ts). Through /bin/sh, so the script needs no execute bit; `--node` is the Node
 * it starts the watcher with (and hands over to `mam-hook` with, src/facts/mam-hook.sh says when), as that Node may
 * not be on the agent's PATH.
 */
export function fastHookCommand(script: string, agent: string, nodePath = process.execPath): string {
  return `${joinWords(['/bin/sh', script])} --agent ${agent} --node ${joinWords([nodePath])}`;
}

/** Which hook `mam hooks install` writes: the fast one (default), or the Node one (`--node`). */
export type HookForm = 'fast' | 'node';

/** The command of `form` for `agent`, the hook files found in `cliDir` (dist/cli/, where both are built). */
export function hookCommandOf(form: HookForm, env: NodeJS.ProcessEnv, cliDir: string, agent: string): string {
  return form === 'node' ? hookCommand(env, path.join(cliDir, 'hook.cjs'), agent) : fastHookCommand(path.join(cliDir, 'mam-hook.sh'), agent);
}

/**
 * How the file was written, so that our rewrite keeps it: indentation (a one-line file stays one line) and
 * the final newline. A file written as `JSON.stringify(value, null, indent)` comes back byte for byte after
 * install + uninstall.
 */
interface Style {
  readonly indent: string;
  readonly newline: boolean;
}

const NEW_FILE_STYLE: Style = { indent: '  ', newline: true };

function styleOf(text: string): Style {
  if (text.trim() === '') return NEW_FILE_STYLE;
  const indented = /\n([ \t]+)\S/.exec(text);
  return { indent: indented?.[1] ?? (text.trim().includes('\n') ? '  ' : ''), newline: text.endsWith('\n') };
}

interface Loaded {
  readonly settings: JsonObject;
  readonly exists: boolean;
  readonly style: Style;
}

async function readSettings(file: string, target: HookTarget): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: {}, exists: false, style: NEW_FILE_STYLE };
    throw new MamError(`${file}: cannot read (${(error as Error).message})`, { cause: error });
  }
  if (text.trim() === '') return { settings: {}, exists: true, style: NEW_FILE_STYLE };
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MamError(`${file}: not valid JSON (${(error as Error).message}); left unchanged (fix the file${target.hooks.settingsMayHaveComments ? ' — comments are not supported here' : ''}, then run again)`, { cause: error });
  }
  checkShape(parsed, file, target);
  return { settings: parsed, exists: true, style: styleOf(text) };
}

async function writeSettings(file: string, settings: JsonObject, style: Style): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(settings, null, style.indent)}${style.newline ? '\n' : ''}`);
}

/** A change worked out and checked, not yet written: `mam hooks … --agent all` checks every file before writing any. */
export interface HookPlan {
  readonly target: HookTarget;
  readonly file: string;
  readonly change: HookChange;
  /** Uninstall left nothing but `{}`: the file was mam's alone, and goes. */
  readonly removesFile: boolean;
  apply(): Promise<void>;
}

export async function planInstall(target: HookTarget, file: string, command: string): Promise<HookPlan> {
  const { settings, style } = await readSettings(file, target);
  const result = mergeHooks(target, settings, command);
  const changed = result.change.added > 0 || result.change.removed > 0;
  return { target, file, change: result.change, removesFile: false, apply: async () => (changed ? writeSettings(file, result.settings, style) : undefined) };
}

export async function planUninstall(target: HookTarget, file: string): Promise<HookPlan> {
  const { settings, exists, style } = await readSettings(file, target);
  const result = unmergeHooks(target, settings);
  const removesFile = exists && result.change.removed > 0 && Object.keys(result.settings).length === 0;
  const apply = async (): Promise<void> => {
    if (result.change.removed === 0) return;
    if (!removesFile) return writeSettings(file, result.settings, style);
    // Our hooks were all the file held, so install created it: remove it, and its directory when that is empty
    // too (`.gemini/` in a workspace); a directory with anything else in it stays.
    await rm(file, { force: true });
    await rmdir(path.dirname(file)).catch(() => undefined);
  };
  return { target, file, change: result.change, removesFile, apply };
}

/** Installs our hooks into `file`; writes only when something changed. */
export async function installHooks(target: HookTarget, file: string, command: string): Promise<HookChange> {
  const plan = await planInstall(target, file, command);
  await plan.apply();
  return plan.change;
}

/** Removes exactly our hooks from `file`; a missing file has nothing to remove. */
export async function uninstallHooks(target: HookTarget, file: string): Promise<HookChange> {
  const plan = await planUninstall(target, file);
  await plan.apply();
  return plan.change;
}
