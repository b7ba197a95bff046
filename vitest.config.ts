import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // Tests drive real tmux servers and subprocesses and mostly wait on them (a quiet run kept about one core of two
    // busy), so six files run side by side, real-agent ones among them (every test waits for its condition with a
    // generous bound). Every project has the same maxWorkers on purpose: vitest runs projects whose maxWorkers differ
    // in separate groups one after another, and a project with maxWorkers 1 after all the others, one file at a time —
    // which is how the real-agent files once ran, ~320 s after the unit files instead of beside them.
    maxWorkers: 6,
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
        },
      },
      {
        // The real Claude Code CLI against a scripted model server (test/claude/), beside the unit files: its waits are
        // bounded for a loaded machine.
        extends: true,
        test: {
          name: 'claude',
          include: ['test/claude/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
      {
        // The real Codex and Gemini CLIs, each against its scripted model server (test/codex/, test/gemini/;
        // docs/codex-gemini-harness.md), beside the Claude ones and the unit files.
        extends: true,
        test: {
          name: 'codex-gemini',
          include: ['test/codex/**/*.test.ts', 'test/gemini/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
    ],
  },
});
