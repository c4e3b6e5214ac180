import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core CI machines: ORT sessions already use the cores, so files run one or two at a time.
    maxWorkers: 2,
  },
});
