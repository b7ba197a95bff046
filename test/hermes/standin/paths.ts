import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HermesEnv } from './api.js';
import { flockBin, type LockSettings } from './board.js';
import { DEFAULT_BUSY_TIMEOUT_MS } from './constants.js';
import { kanbanError, standinError } from './context.js';
import { pyRepr } from './output.js';

/** Where things live ('Where the board lives'): the kanban root, the board file, workspaces and logs, profiles, and who is asking. */

export interface BoardPaths {
  root: string;
  slug: string;
  file: string;
  boardDir: string;
  workspacesRoot: string;
  logsDir: string;
}

/** The shared Hermes root (kanban_db.py:370-391). */
export function kanbanRoot(env: HermesEnv): string {
  const explicit = env['HERMES_KANBAN_HOME'];
  if (explicit) return path.resolve(explicit);
  const native = path.resolve(env['HOME'] || os.homedir(), '.hermes');
  const home = env['HERMES_HOME'];
  if (home) {
    const resolved = path.resolve(home);
    if (resolved === native || resolved.startsWith(native + path.sep)) return native;
    if (path.basename(path.dirname(resolved)) === 'profiles') return path.dirname(path.dirname(resolved));
    return resolved;
  }
  const db = env['HERMES_KANBAN_DB'];
  if (db) {
    const dir = path.dirname(path.resolve(db));
    const boards = path.dirname(dir);
    if (path.basename(boards) === 'boards' && path.basename(path.dirname(boards)) === 'kanban') {
      return path.dirname(path.dirname(boards));
    }
    return dir;
  }
  return native;
}

function normalizeSlug(raw: string): string {
  const slug = raw.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(slug)) {
    throw kanbanError(`invalid board slug ${pyRepr(raw)}: use lowercase letters, digits, '-' and '_'`, 2);
  }
  return slug;
}

function realHermesHome(): string | null {
  try {
    return path.join(os.userInfo().homedir, '.hermes');
  } catch {
    return null;
  }
}

export function resolveBoardPaths(env: HermesEnv, boardFlag: string | null): BoardPaths {
  const root = kanbanRoot(env);
  const real = realHermesHome();
  if (real && (root === real || root.startsWith(real + path.sep)) && env['HERMES_STANDIN_ALLOW_REAL_HOME'] !== '1') {
    throw standinError(
      `refusing to use the real ${real} as the kanban root; point HERMES_HOME at a temp dir ` +
        '(or set HERMES_STANDIN_ALLOW_REAL_HOME=1)',
    );
  }
  let slug = 'default';
  if (boardFlag !== null) {
    slug = normalizeSlug(boardFlag);
    if (slug !== 'default' && !existsSync(path.join(root, 'kanban', 'boards', slug))) {
      throw kanbanError(`board ${pyRepr(slug)} does not exist. Create it with \`hermes kanban boards create ${slug}\`.`);
    }
  } else if (env['HERMES_KANBAN_BOARD']?.trim()) {
    slug = normalizeSlug(env['HERMES_KANBAN_BOARD']);
  } else {
    try {
      const current = readFileSync(path.join(root, 'kanban', 'current'), 'utf8').trim();
      if (current) slug = normalizeSlug(current);
    } catch {
      // no current-board pointer
    }
  }
  const boardDir = slug === 'default' ? path.join(root, 'kanban') : path.join(root, 'kanban', 'boards', slug);
  let file = slug === 'default' ? path.join(root, 'kanban.json') : path.join(boardDir, 'kanban.json');
  const pinned = env['HERMES_KANBAN_DB'];
  if (pinned) {
    const resolved = path.resolve(pinned);
    file = resolved.endsWith('.json') ? resolved : path.join(path.dirname(resolved), 'kanban.json');
  }
  const workspacesRoot = env['HERMES_KANBAN_WORKSPACES_ROOT']
    ? path.resolve(env['HERMES_KANBAN_WORKSPACES_ROOT'])
    : path.join(boardDir, 'workspaces');
  return { root, slug, file, boardDir, workspacesRoot, logsDir: path.join(boardDir, 'logs') };
}

export function lockSettings(env: HermesEnv): LockSettings {
  const raw = Number(env['HERMES_KANBAN_BUSY_TIMEOUT_MS']);
  return { timeoutMs: Number.isFinite(raw) && raw > 0 ? raw : DEFAULT_BUSY_TIMEOUT_MS, flockBin: flockBin(env) };
}

export function profileNames(root: string): string[] {
  try {
    return readdirSyncSafe(path.join(root, 'profiles'))
      .filter((name) => statSync(path.join(root, 'profiles', name)).isDirectory())
      .sort();
  } catch {
    return [];
  }
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `profile_exists`: a directory `<root>/profiles/<name>/` (the root profile `default` always exists). */
export function profileExists(root: string, name: string): boolean {
  if (name === 'default') return true;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return false;
  try {
    return statSync(path.join(root, 'profiles', name)).isDirectory();
  } catch {
    return false;
  }
}

/** `_profile_author()` ('Comments'): `$HERMES_PROFILE_NAME`, `$HERMES_PROFILE`, then the active profile name. */
export function profileAuthor(env: HermesEnv): string {
  for (const name of ['HERMES_PROFILE_NAME', 'HERMES_PROFILE']) {
    const value = env[name];
    if (value) return value;
  }
  const home = env['HERMES_HOME'];
  if (home) {
    const resolved = path.resolve(home);
    if (path.basename(path.dirname(resolved)) === 'profiles') return path.basename(resolved);
  }
  return 'default';
}

export function hostPrefix(): string {
  return `${os.hostname()}:`;
}

/** `_claimer_id()`: `<hostname>:<pid>` ('The dispatcher'). */
export function claimerId(): string {
  return `${os.hostname()}:${process.pid}`;
}
