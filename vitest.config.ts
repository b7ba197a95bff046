import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // Tests drive real tmux servers and subprocesses and mostly wait on them (a quiet run kept about one core of two
    // busy), so four unit files and the two real-agent projects run side by side (every test waits for its condition
    // with a generous bound).
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
          maxWorkers: 4,
        },
      },
      {
        // The real Claude Code CLI against a scripted model server (test/claude/). One claude at a time, beside the
        // unit files: its waits are bounded for a loaded machine, and running it after them cost ~150 s of wall time.
        extends: true,
        test: {
          name: 'claude',
          include: ['test/claude/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
        },
      },
      {
        // The real Codex and Gemini CLIs, each against its scripted model server (test/codex/, test/gemini/;
        // docs/codex-gemini-harness.md). One at a time, beside the Claude ones and the unit files.
        extends: true,
        test: {
          name: 'codex-gemini',
          include: ['test/codex/**/*.test.ts', 'test/gemini/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
        },
      },
    ],
  },
});
