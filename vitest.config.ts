import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // Tests drive real tmux servers and subprocesses and mostly wait on them, so three test files at a time keep
    // two cores busy without starving them (every test waits for its condition with a generous bound).
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/claude/**', 'test/codex/**', 'test/gemini/**'],
          // Bounds, not expectations: a test waits for its conditions, and only a hang should ever reach these
          // (the suite beside `npm run test:busy`'s burner runs several times slower than on a quiet machine).
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 3,
        },
      },
      {
        // The real Claude Code CLI against a scripted model server (test/claude/). One claude at a time, and
        // only after the unit project, so start-up and screen timing don't compete with the fast suite.
        extends: true,
        test: {
          name: 'claude',
          include: ['test/claude/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The real Codex and Gemini CLIs, each against its scripted model server (test/codex/, test/gemini/;
        // docs/codex-gemini-harness.md). One at a time, beside the Claude ones (same group): two agents on two
        // cores, which every real-agent test's bounds allow for, instead of ~100 s more of wall time.
        extends: true,
        test: {
          name: 'codex-gemini',
          include: ['test/codex/**/*.test.ts', 'test/gemini/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
