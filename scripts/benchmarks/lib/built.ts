/** The built code in dist/ (what ships), loaded at run time and typed as its source in src/. */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST } from './paths.js';

/**
 * `importBuilt<typeof import('../../../src/render/templateSet.js')>('render/templateSet.js')`; `dist` names another
 * build's dist/ (e.g. of the commit before).
 */
export async function importBuilt<T>(path: string, dist: string = DIST): Promise<T> {
  return (await import(pathToFileURL(join(dist, path)).href)) as T;
}
