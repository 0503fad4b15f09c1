// The chaos test of several hubs on the engine alone (npm run test:chaos): minutes of killed hubs
// and engine nodes under a simulated fleet. It stays out of the default run until it has passed
// repeatedly (docs/scaling.md, "What is tested").
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/chaos/**/*.test.ts"],
    testTimeout: 10 * 60_000,
    hookTimeout: 2 * 60_000,
    maxWorkers: 1,
  },
});
