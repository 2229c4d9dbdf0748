import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", ".out/**", "node_modules/**", "coverage/**", ".node-red/**", ".ci/**", "bench/results/**", "resources/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
      eqeqeq: ["error", "always"],
    },
  },
  {
    // dependencies point one way: the nodes use nodes/shared, never the reverse
    files: ["nodes/shared/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/wx-*", "**/wx-*/**"], message: "nodes/shared must not import from a node folder (nodes/wx-*)" }] }],
    },
  },
  {
    files: ["scripts/**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable", process: "readonly", __dirname: "readonly", console: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    files: ["nodes/**/editor/*.js"],
    languageOptions: { sourceType: "script", globals: { window: "readonly", document: "readonly", $: "readonly", RED: "readonly", setTimeout: "readonly" } },
  },
);
