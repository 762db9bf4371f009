import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the real Next.js app of the e2e tests once (cached by its source hash): test/helpers/next-app.ts.
    globalSetup: ['test/global-setup.ts'],
    // End-to-end tests start real nginx and PM2 processes; they get their own generous limits.
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
