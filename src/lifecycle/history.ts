/**
 * `<registry>.history.jsonl`: where entries that leave the registry (`mam delete`, `mam prune`) are kept, one JSON
 * line each: `{at, action, entry}`. A module of its own so prune does not load delete's dependencies (stop, jobs).
 */
export function historyFile(registryFile: string): string {
  return registryFile.replace(/\.ya?ml$/, '') + '.history.jsonl';
}
