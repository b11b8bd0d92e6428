import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TemplateSources } from './templateSet.js';

/** The templates shipped with birdwatch (`templates/` at the package root, from both src/ and dist/). */
const BUILTIN_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

/**
 * Every `.hbs` file under `dir`, by relative path. Symlinks are followed (a Kubernetes ConfigMap volume presents
 * each file as a symlink into `..data`); names starting with `..` (the ConfigMap's own timestamped dirs) are
 * skipped, or every template would be read twice.
 */
async function readTemplateDir(dir: string, prefix = ''): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('..')) continue;
    const full = join(dir, name);
    const info = await stat(full).catch(() => undefined); // a dangling symlink is no template
    if (info?.isDirectory()) {
      for (const [child, source] of await readTemplateDir(full, `${prefix}${name}/`)) sources.set(child, source);
    } else if (info?.isFile() && name.endsWith('.hbs')) {
      sources.set(`${prefix}${name}`, await readFile(full, 'utf8'));
    }
  }
  return sources;
}

/** Built-in templates, overridden file by file by those in `overrideDir` (a file missing there falls back). */
export async function loadTemplateSources(overrideDir?: string): Promise<TemplateSources> {
  const sources = await readTemplateDir(BUILTIN_TEMPLATE_DIR);
  if (overrideDir) for (const [name, source] of await readTemplateDir(overrideDir)) sources.set(name, source);
  return sources;
}
