// The chaos test of several hubs on the engine (npm run test:chaos): minutes of killed hubs and
// engine nodes under a simulated fleet. `npm test` runs it after every other suite, alone, so the
// other suites' processes and this one's fleet do not share the two cores at once.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/chaos/**/*.test.ts"],
    testTimeout: 10 * 60_000,
    hookTimeout: 2 * 60_000,
    maxWorkers: 1,
  },
});
