import { TemplateError } from './errors.js';
import type { Layout } from './layouts.js';
import { compileTemplateSet, type CompiledTemplateSet } from './templateSet.js';
import { loadTemplateSources } from './templateSources.js';
import { errorMessage } from '../errorMessage.js';

/** Loads and compiles the template set; a broken set is returned as its error so cycles can report it. */
export async function loadCompiledTemplates(
  overrideDir: string | undefined,
  layout: Layout,
): Promise<CompiledTemplateSet | TemplateError> {
  try {
    return compileTemplateSet(await loadTemplateSources(overrideDir), layout);
  } catch (error) {
    if (error instanceof TemplateError) return error;
    return new TemplateError(`cannot read templates from ${overrideDir}: ${errorMessage(error)}`, overrideDir ?? '', {
      cause: error,
    });
  }
}
