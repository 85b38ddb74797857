import { defineConfig } from 'vitest/config';

// `npm run test:browser`: the HTML pages in headless Chromium (Debian's /usr/bin/chromium, or
// CHROMIUM_PATH). Kept apart from `npm test`, which must not need a browser.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
