import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** An import of one of these top-level folders, from any depth: `../server/x`, `../../activities/y`. */
const folders = (...names) => `^(\\.\\./)+(${names.join('|')})(/|$)`;

/** The control plane's packages, which a service embedding the SDK must not load. */
const CONTROL_PLANE_PACKAGES = [
  '@temporalio/*',
  'express',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-ssm',
  '@aws-sdk/client-cloudwatch',
];

export default tseslint.config(
  {
    // test/fixtures/lint/ breaks the rules on purpose: test/unit/lintBoundaries.test.ts lints it.
    ignores: [
      'node_modules/',
      'dist/',
      'console/dist/',
      'gen/',
      '.tools/',
      '.local/',
      'bin/',
      'coverage/',
      'test/fixtures/lint/',
    ],
  },
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
    // What a consuming service embeds depends on nothing of the control plane, so it can ship alone.
    files: ['sdk/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!common/|gen/)',
              message:
                'The SDK imports only common/, gen/ and its own files: move what it shares to common/.',
            },
            {
              group: CONTROL_PLANE_PACKAGES,
              message: 'The SDK loads no Temporal, express, DynamoDB, Parameter Store or CloudWatch package.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: folders('server', 'activities', 'workflows'),
              message: 'cfgctl talks to the REST API only: no server/, activities/ or workflows/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: folders(
                'activities',
                'bench',
                'cli',
                'examples',
                'lambdas',
                'rolloutClient',
                'scripts',
                'sdk',
                'server',
                'test',
                'workflows',
              ),
              message:
                'common/ is the bottom layer: it imports only its own files, never the folders above it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['lambdas/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: folders('server'),
              message: 'Lambdas never import server/: start and read rollouts through rolloutClient/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: folders('server', 'cli', 'sdk'),
              message: 'Activities receive their clients; they never import server/, cli/ or sdk/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The web console runs in the browser: no third-party code in the page, nothing of the server, and
    // only types of the REST contract (common/api), so zod and Node stay out of the bundle.
    files: ['console/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^[^.]', message: 'The console bundles no package: only its own files.' },
            {
              regex: '^(\\.\\./)+common/api/',
              allowTypeImports: true,
              message: 'The console imports only types from common/api.',
            },
            {
              regex: '^(\\.\\./)+(?!common/api/)[a-zA-Z]+/',
              message: 'The console imports only its own files and types from common/api.',
            },
          ],
        },
      ],
    },
  },
  {
    // Type-only imports may go both ways (the workflow's type and its client's); runtime cycles may not.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Without it the rule follows no .ts file (only .js by default), and so finds no cycle at all.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver()],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
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
