import { defineConfig } from 'vitest/config';

/**
 * Two projects: unit tests (`*.test.ts`, no services) and integration tests (`*.int.test.ts`)
 * that get a real Kafka, schema registry and ClickHouse from `test/global-setup.ts`. Each test
 * file runs in its own process, because chDB allows one engine per process.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['**/*.test.ts'], exclude: ['**/*.int.test.ts', 'node_modules/**', '.local/**'], testTimeout: 20_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: ['node_modules/**', '.local/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: true,
        },
      },
    ],
  },
});
