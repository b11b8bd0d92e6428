import Handlebars from 'handlebars';
import { TemplateError } from './errors.js';
import { OUTPUT_FILES, type OutputFile } from './fileSet.js';
import type { TemplateView } from './templateView.js';

/** Template sources by name: `<output file>.hbs` for each output file, `partials/<name>.hbs` for shared pieces. */
export type TemplateSources = ReadonlyMap<string, string>;

export const templateNameFor = (file: OutputFile): string => `${file}.hbs`;

export interface CompiledTemplateSet {
  render(view: TemplateView): Map<OutputFile, string>;
}

/**
 * Compiles once; every render reuses the compiled functions. Each set gets its own Handlebars environment (no
 * global registry), no HTML escaping (it would corrupt BIRD syntax) and strict mode (a missing field is an error).
 */
export function compileTemplateSet(sources: TemplateSources): CompiledTemplateSet {
  const handlebars = Handlebars.create();
  for (const [name, source] of sources) {
    const match = /^partials\/([A-Za-z0-9_-]+)\.hbs$/.exec(name);
    if (match) handlebars.registerPartial(match[1]!, source);
  }
  const compiled = new Map<OutputFile, HandlebarsTemplateDelegate<TemplateView>>();
  for (const file of OUTPUT_FILES) {
    const name = templateNameFor(file);
    const source = sources.get(name);
    if (source === undefined) throw new TemplateError(`template ${name} is missing`, name);
    try {
      compiled.set(file, handlebars.compile<TemplateView>(source, { noEscape: true, strict: true, preventIndent: true }));
    } catch (error) {
      throw new TemplateError(`template ${name}: ${(error as Error).message}`, name, { cause: error });
    }
  }
  return {
    render(view) {
      const files = new Map<OutputFile, string>();
      for (const [file, template] of compiled) {
        try {
          files.set(file, template(view));
        } catch (error) {
          throw new TemplateError(`template ${templateNameFor(file)}: ${(error as Error).message}`, templateNameFor(file), { cause: error });
        }
      }
      return files;
    },
  };
}
