/**
 * A stand-in for the `hermes kanban` CLI of Hermes Agent 0.18.0, for tests of `mam`'s Kanban worker.
 *
 * The contract is docs/hermes-kanban.md (the sections named in ./standin/ in quotes are that page's), and what this
 * stand-in reproduces and where it deviates is test/hermes/README.md. Output strings, exit codes and JSON shapes
 * follow the 0.18-era `hermes_cli/kanban.py`; the kernel (claims, runs, blocks, the dispatcher tick) follows
 * `kanban_db.py` as that page describes it. The board is a JSON file instead
 * of SQLite; every read-modify-write runs under an exclusive flock (`withLock`) and is written with
 * `writeFileAtomic`, so concurrent CLI processes (a test, a worker, a supervisor) never lose an update.
 *
 * `runHermes` never exits the process and never writes to the real stdout: it is used in-process by tests
 * (thousands of calls) as well as through the `hermes` executable next to this file.
 *
 * This file is the stand-in's only entry: importers and cli.ts use it, and the implementation lives in ./standin/,
 * one module per concern (README.md lists them).
 */
export { HERMES_STANDIN_BIN, HERMES_STANDIN_VERSION, SUPERVISE_FLAG, type HermesEnv, type HermesOptions, type HermesResult } from './standin/api.js';
export { boardFileFor, runHermes } from './standin/main.js';
export { kanbanRoot } from './standin/paths.js';
export { runSupervisorAs, superviseWorker } from './standin/processes.js';
