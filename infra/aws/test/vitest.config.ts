// The slow first-boot test alone (npm run test:aws-bootstrap): it builds a Debian root and
// installs the stack into it, so it stays out of the default run.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["infra/aws/test/**/*.test.ts"],
    testTimeout: 21 * 60_000,
    hookTimeout: 2 * 60_000,
    maxWorkers: 1,
  },
});
