import { readFileSync } from 'node:fs';

/**
 * birdwatch's version, from the package.json beside src/ or dist/ (one small synchronous read, so `--version`
 * needs no build step to stay true); `unknown` if it cannot be read.
 */
function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const BIRDWATCH_VERSION = readVersion();
