import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file runs in its own process: the Pulumi SDK keeps its mock engine in global state.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
