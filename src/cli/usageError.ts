/** A bad command-line argument or environment variable: exit code 2, one line naming it and the reason. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    readonly argument: string,
    readonly value: string | undefined,
    readonly expected: string,
  ) {
    super(`${argument}${value === undefined ? '' : ` ${JSON.stringify(value)}`}: ${expected}`);
  }
}
