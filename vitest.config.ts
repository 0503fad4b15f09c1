// One vitest run for every package: unit tests beside the code, black-box tests in tests/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{protocol,hub,agent,simulator,demo}/src/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Black-box suites start real processes on free ports; two cores are shared between them.
    maxWorkers: 2,
  },
});
