import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Once per run, before any test: the `hermes` stand-in as one file, a third of its start-up CPU under tsx.
    globalSetup: ['test/setup/hermes-bundle.ts'],
    pool: 'forks',
    // Tests drive real tmux servers and subprocesses and wait on them, so four unit files run side by side (every test
    // waits for its condition with a generous bound); together they keep both cores busy (docs/development.md).
    // The real-agent projects have maxWorkers 1, and one vitest process runs such projects after all the others, one
    // file at a time (~320 s of a quiet run's 1000 s), and the two of them one after the other. So `npm test`
    // (scripts/test.mjs) runs each as a vitest process of its own beside the unit one. Giving every project the same
    // maxWorkers puts them all in one pool instead; tried with six workers, several real CLIs at once beside four unit
    // files made the whole run slower, not faster.
    maxWorkers: 6,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/claude/**', 'test/codex/**', 'test/gemini/**', 'test/packaging/**'],
          // Bounds, not expectations: a test waits for its conditions, and only a hang should ever reach these
          // (the suite beside `npm run test:busy`'s burner runs several times slower than on a quiet machine).
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 4,
          // The four worker processes each run their share of the files, importing src/ once instead of once per
          // file: about 100 of a quiet run's 1,050 CPU seconds (docs/development.md). Safe because no test mocks a
          // module or changes process.env or the cwd, and each file's resources (tmux servers, temp dirs) are its own.
          isolate: false,
        },
      },
      {
        // The real Claude Code CLI against a scripted model server (test/claude/), one file at a time.
        extends: true,
        test: {
          name: 'claude',
          include: ['test/claude/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
          // One worker process for all its files, as the unit project (and safe for the same reasons): a fork per
          // file cost about 1.4 CPU s each before its first test.
          isolate: false,
        },
      },
      {
        // The real Codex and Gemini CLIs, each against its scripted model server (test/codex/, test/gemini/;
        // docs/codex-gemini-harness.md), one file at a time.
        extends: true,
        test: {
          name: 'codex-gemini',
          include: ['test/codex/**/*.test.ts', 'test/gemini/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
          isolate: false,
        },
      },
      {
        // The build, `npm pack` and `npm test` themselves (test/packaging/): mostly tsc, over a minute of CPU. `npm test`
        // runs them after codex-gemini in that project's vitest process, which is otherwise done long before the unit
        // files are, so they no longer lengthen the unit project (docs/development.md).
        extends: true,
        test: {
          name: 'packaging',
          include: ['test/packaging/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
          isolate: false,
        },
      },
    ],
  },
});
