/** The message of anything thrown: an Error's own, else the value as text (a rejected string, say). */
export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
