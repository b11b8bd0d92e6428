/** The outcome of validating one datastore value: the typed value, or why it was refused. */
export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const accept = <T>(value: T): Validated<T> => ({ ok: true, value });
export const refuse = (reason: string): Validated<never> => ({ ok: false, reason });
