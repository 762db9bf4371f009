import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests start real nginx and PM2 processes; they get their own generous limits.
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
