import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'gen/', '.tools/', '.local/', 'bin/', 'coverage/'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, AWS SDK or server code.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'http', 'https', 'net', 'crypto', 'child_process'],
              message: 'Workflows must stay deterministic: no Node built-ins.',
            },
            { group: ['@aws-sdk/*', '@grpc/*', 'express'], message: 'Workflows call activities for I/O.' },
            {
              group: ['**/activities/*', '!**/activities/types'],
              message: 'Workflows import only activity types.',
              allowTypeImports: true,
            },
            { group: ['**/server/*'], message: 'Workflows never import server code.' },
          ],
        },
      ],
    },
  },
  {
    // Fakes implement async interfaces without awaiting anything.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
