import { defineConfig } from 'vitest/config';

// Forks, not threads: tests open real SQLite files, spawn processes and bind sockets.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
