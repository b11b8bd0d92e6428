// Type-aware lint for the rules a compiler cannot give: a promise nobody awaits or handles is a daemon that
// dies on the first rejection (README "Reliability"), so those rules are errors and `void promise` does not silence
// them.
import tseslint from 'typescript-eslint';

/**
 * A pino call: `log.info({...fields}, message)` and its siblings, and a level chosen at the call,
 * `(cond ? log.error.bind(log) : log.warn.bind(log))({...fields}, message)`.
 */
const LEVEL = '/^(fatal|error|warn|info|debug|trace)$/';
const LOG_CALL = `CallExpression:matches([callee.property.name=${LEVEL}], [callee.type='ConditionalExpression'][callee.consequent.callee.object.property.name=${LEVEL}])`;
const EVENT_SATISFIES_LOG_EVENT = {
  selector: `${LOG_CALL} > ObjectExpression > Property[key.name='event']:not([value.type='TSSatisfiesExpression'][value.typeAnnotation.typeName.name='LogEvent'])`,
  message: "write a log line's event as `event: 'name' satisfies LogEvent` (src/observe/logEvents.ts)",
};
const LOG_CALL_HAS_EVENT = {
  selector: `${LOG_CALL} > ObjectExpression:first-child:not(:has(> Property[key.name='event']))`,
  message: "a log line says what it is: `event: 'name' satisfies LogEvent` (src/observe/logEvents.ts)",
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.tap/**',
      'coverage/**',
      'scripts/gen-mesh-fixture.mjs',
      'eslint.config.js',
    ],
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          ignoreVoid: false,
          // tap runs and awaits its subtests itself: `t.test(...)` at the top of a test file is the idiom.
          allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Every failure is an Error with a message and a stack: the house's typed errors, `errorMessage()`, the logs.
      '@typescript-eslint/only-throw-error': 'error',
      // An abort's reason or a caught value is passed on as it is (it already is whatever was thrown).
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // `_name` marks a value left out on purpose (a destructured field dropped from a copy).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // `import type` for types: such imports vanish from the output, so a type never loads a module at start-up.
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      eqeqeq: 'error',
      // Code is prettier's (printWidth 120); prettier does not wrap comments, so this rule does. Tables are kept.
      'max-len': ['error', { code: 1000, comments: 120, ignoreUrls: true, ignorePattern: '^\\s*\\* \\|' }],
    },
  },
  // Every log line carries a stable `event` (src/observe/logEvents.ts), written `'name' satisfies LogEvent`, so a
  // misspelt or unknown event is a type error.
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', EVENT_SATISFIES_LOG_EVENT, LOG_CALL_HAS_EVENT] },
  },
);
