import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NO_SHELL = ['child_process', 'node:child_process'].map((name) => ({
  name,
  importNames: ['exec', 'execSync'],
  message: 'Use execFile with an argument array, never a shell.',
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', '.stryker-tmp/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { paths: NO_SHELL }],
    },
  },
  {
    // Only main.ts and the CLI entry may touch process; lib code gets what it needs passed in.
    files: ['lib/**/*.ts', 'daemons/**/*.ts'],
    ignores: ['daemons/*/main.ts', 'lib/daemon/**', 'lib/systemd-notify.ts', 'lib/log.ts', 'lib/metrics.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Only main.ts and lib/daemon touch process; pass values in.' },
      ],
    },
  },
  {
    // lib/http is below lib/daemon: the daemon lifecycle builds on the server, never the other way round.
    files: ['lib/http/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NO_SHELL,
          patterns: [{ group: ['**/daemon/**'], message: 'lib/http must not import lib/daemon.' }],
        },
      ],
    },
  },
);
