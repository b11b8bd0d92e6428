/** A template failed to compile or to render (a missing field in strict mode, a syntax error). */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(
    message: string,
    readonly template: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
