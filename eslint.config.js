import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'child_process',
              importNames: ['exec', 'execSync'],
              message: 'Use execFile with an argument array, never a shell.',
            },
            {
              name: 'node:child_process',
              importNames: ['exec', 'execSync'],
              message: 'Use execFile with an argument array, never a shell.',
            },
          ],
        },
      ],
    },
  },
  {
    // Only main.ts and the CLI entry may touch process; lib code gets what it needs passed in.
    files: ['lib/**/*.ts', 'daemons/**/*.ts'],
    ignores: ['daemons/*/main.ts', 'lib/daemon/**', 'lib/notify.ts', 'lib/log.ts', 'lib/metrics.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Only main.ts and lib/daemon touch process; pass values in.' },
      ],
    },
  },
);
