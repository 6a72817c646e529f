// ESLint: the JavaScript and TypeScript recommended rules, syntax-only (no type information: a
// run over the whole tree takes seconds). `npm run lint`; .ci/run runs it before the tests.
// Off, with the reason:
// - no-explicit-any: the mock engine and the SDK shortcuts handle the Pulumi SDK's protobuf
//   messages, which have no types to name;
// - no-require-imports: require() loads a module on first use (the CLI starts without the cloud
//   SDKs) and reaches SDK internals by path.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "out/", ".tools/", "bench/results/", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-require-imports": "off",
      // `_name` marks a binding kept for its place (a destructured field left out).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/no-unused-expressions": ["error", { allowShortCircuit: true, allowTernary: true }],
      // Terminal output is read back by matching its escape sequences.
      "no-control-regex": "off",
    },
  },
  { files: ["**/*.js", "**/*.cjs"], languageOptions: { sourceType: "commonjs", globals: globals.node } },
);
