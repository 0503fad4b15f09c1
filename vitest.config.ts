// One vitest run for every package: unit tests beside the code, black-box tests in tests/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "{protocol,hub,agent,simulator,demo}/src/**/*.test.ts",
      "hub/web/**/*.test.ts",
      "tests/**/*.test.ts",
    ],
    // The chaos test runs alone after the rest (npm run test:chaos, tests/chaos/vitest.config.ts).
    exclude: ["**/node_modules/**", "hub/web/dist/**", "tests/chaos/**"],
    // Limits that only a stuck test reaches, also on a machine busy with other CPU-bound work;
    // a test waits for events, never for time, so a passing run is no slower for them.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Black-box suites start real processes on free ports; two cores are shared between them.
    maxWorkers: 2,
  },
});
