import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every folder a test makes with tempDir() is removed when its file ends.
    setupFiles: ["testing/setup.ts"],
    // The run's own temp folder, which must be empty when it ends.
    globalSetup: ["testing/global-setup.ts"],
    // Each file runs in its own process: the Pulumi SDK keeps its mock engine in global state.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
