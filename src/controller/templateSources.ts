import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TemplateSources } from '../render/templateSet.js';

/** The templates shipped with birdwatch (`templates/` at the package root, from both src/ and dist/). */
export const BUILTIN_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

async function readTemplateDir(dir: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.hbs')) continue;
    const full = join(entry.parentPath, entry.name);
    const name = full.slice(dir.length).replace(/^\/+/, '');
    sources.set(name, await readFile(full, 'utf8'));
  }
  return sources;
}

/** Built-in templates, overridden file by file by those in `overrideDir` (a file missing there falls back). */
export async function loadTemplateSources(overrideDir?: string): Promise<TemplateSources> {
  const sources = await readTemplateDir(BUILTIN_TEMPLATE_DIR);
  if (overrideDir) for (const [name, source] of await readTemplateDir(overrideDir)) sources.set(name, source);
  return sources;
}
