// ESLint flat config: typescript-eslint type-checked rules on all TypeScript.
// lib/ must never import node-red (DESIGN.md §1): enforced by no-restricted-imports below.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LIB_PATTERNS = [
  { group: ['node-red', 'node-red/*', '@node-red/*'], message: 'lib/ never imports node-red (DESIGN.md §1).' },
  { regex: '(^|/)(nodes|plugins)(/|$)', message: 'lib/ never imports nodes/ or plugins/ (DESIGN.md §1).' },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.node-red-data/**', '.ci-node22/**', 'test/e2e/artifacts/**', 'bench/tmp/**', '**/*.html', 'nodes/**/*.js', 'coverage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  // The dependency direction of DESIGN.md §1: nodes -> channel -> {mllp, hl7, store}; never
  // mllp -> store/channel, store -> audit/hl7/fhir, lib -> nodes/plugins. A later block replaces
  // the rule for its files, so each block repeats the patterns every lib file obeys.
  {
    files: ['lib/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: LIB_PATTERNS }] },
  },
  {
    files: ['lib/mllp/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...LIB_PATTERNS, { regex: '^\\.\\./(store|channel)(/|$)', message: 'lib/mllp is pure transport: it imports neither lib/store nor lib/channel (DESIGN.md §1).' }] }] },
  },
  {
    files: ['lib/store/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...LIB_PATTERNS, { regex: '^\\.\\./(audit|hl7|fhir)(/|$)', message: 'lib/store imports neither lib/audit, lib/hl7 nor lib/fhir (DESIGN.md §1).' }] }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
  },
);
