import { defineConfig } from 'vitest/config';

// tfjs keeps one global engine per process; forks keep test files isolated from each other's
// backend and registered classes. Two workers match the 2-core target machine.
export default defineConfig({
  test: {
    // optimizers/: the tests `new-optimizer` writes next to the user's variants.
    include: ['test/**/*.test.ts', 'optimizers/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
