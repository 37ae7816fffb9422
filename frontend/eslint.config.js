// ESLint for the web app: JavaScript's and TypeScript's recommended rules, and React's hooks
// rules (the rules of hooks, exhaustive dependencies and the React Compiler's checks).
// Types are checked by `tsc --noEmit`; both run in ./scripts/run-tests.sh (tests/lint).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  globalIgnores(['dist/', 'test-results/', 'playwright-report/']),
  js.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    extends: [tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
  },
  {
    // Browser tests, benchmark and build scripts run in Node; page.evaluate bodies run in the page.
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
]);
