/** The node cannot be configured at all (as opposed to an entry that is skipped with a diagnostic). */
export class NodeConfigError extends Error {
  override readonly name = 'NodeConfigError';
  constructor(
    message: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
