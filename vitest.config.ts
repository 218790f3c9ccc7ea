import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real gateways (primary + workers): give them room on 2 cores.
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
