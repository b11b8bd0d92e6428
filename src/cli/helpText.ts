import type { Command } from 'commander';

/** Exit codes every command shares; commands with more (render --diff, status, check) add theirs. */
export const EXIT_CODES_COMMON: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'failure (etcd, BIRD or a file could not be used; nothing invalid was applied)',
  2: 'usage: a bad argument, option or environment variable (nothing was done)',
};

/** Appends `Examples:` and `Exit codes:` sections to the command's --help. */
export function addExamples(
  command: Command,
  examples: readonly string[],
  exitCodes: Readonly<Record<number, string>> = EXIT_CODES_COMMON,
): Command {
  const codes = Object.entries(exitCodes).map(([code, text]) => `  ${code}  ${text}`);
  return command.addHelpText(
    'after',
    ['', 'Examples:', ...examples.map((e) => `  $ ${e}`), '', 'Exit codes:', ...codes].join('\n'),
  );
}
