/** BIRD 1.6 strings have no escapes: a path holding `"` or a line break cannot be named in `configure "<path>"`. */
export const canNameInConfigure = (path: string): boolean => !/["\r\n]/.test(path);
