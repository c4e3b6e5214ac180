import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One file at a time: the tests' own peer processes, onnxruntime threads and Chromium already fill
    // a 2-core machine, and two heavy files side by side starved each other's timers (heartbeats, round
    // deadlines) into rare, load-made failures.
    maxWorkers: 1,
  },
});
