import Handlebars from 'handlebars';
import { isContextOnlyTemplate } from './contextOnlyPartial.js';
import { TemplateError } from './errors.js';
import { NODE_LAYOUT, type Layout } from './layouts.js';
import { errorMessage } from '../errorMessage.js';

/**
 * Template sources by name: `<output file>.hbs` (node), `reflector/<output file>.hbs`, `partials/<name>.hbs`; the
 * BIRD 2/3 set under `bird2/` (its partials in `bird2/partials/`).
 */
export type TemplateSources = ReadonlyMap<string, string>;

export interface CompiledTemplateSet {
  /** Renders every file of the layout, in layout order. */
  render(view: object): Map<string, string>;
}

const DEFAULT_PARTIALS = 'partials/';
const COMPILE_OPTIONS = { noEscape: true, strict: true, preventIndent: true } as const;

/**
 * A partial whose output depends on its context object alone (`{{> peer}}` inside `{{#each meshPeers}}`): each
 * context object's text is kept (weakly) and reused, so a render after a one-host change runs the partial for
 * that host only. The model hands out the same immutable view object for an unchanged peer.
 */
function reusingPartial(handlebars: typeof Handlebars, source: string): HandlebarsTemplateDelegate<unknown> {
  const template = handlebars.compile<unknown>(source, COMPILE_OPTIONS);
  const rendered = new WeakMap<object, string>();
  return (context: unknown, options?: Handlebars.RuntimeOptions) => {
    if (typeof context !== 'object' || context === null) return template(context, options);
    let text = rendered.get(context);
    if (text === undefined) {
      text = template(context, options);
      rendered.set(context, text);
    }
    return text;
  };
}

/**
 * Compiles once; every render reuses the compiled functions. Each set gets its own Handlebars environment (no
 * global registry), no HTML escaping (it would corrupt BIRD syntax) and strict mode (a missing field is an error).
 */
export function compileTemplateSet(sources: TemplateSources, layout: Layout = NODE_LAYOUT): CompiledTemplateSet {
  // One environment per partials directory: the BIRD 1.6 and BIRD 2/3 sets have partials of the same name.
  const environments = new Map<string, typeof Handlebars>();
  const environment = (dir: string): typeof Handlebars => {
    let handlebars = environments.get(dir);
    if (handlebars) return handlebars;
    handlebars = Handlebars.create();
    for (const [name, source] of sources) {
      if (!name.startsWith(dir)) continue;
      const match = /^([A-Za-z0-9_-]+)\.hbs$/.exec(name.slice(dir.length));
      if (!match) continue;
      if (isContextOnlyTemplate(source, handlebars))
        handlebars.registerPartial(match[1]!, reusingPartial(handlebars, source));
      else handlebars.registerPartial(match[1]!, source);
    }
    environments.set(dir, handlebars);
    return handlebars;
  };
  const compiled = new Map<string, { name: string; template: HandlebarsTemplateDelegate<object> }>();
  for (const { file, template: name, partials = DEFAULT_PARTIALS } of layout) {
    const source = sources.get(name);
    if (source === undefined) throw new TemplateError(`template ${name} is missing`, name);
    try {
      compiled.set(file, {
        name,
        template: environment(partials).compile<object>(source, COMPILE_OPTIONS),
      });
    } catch (error) {
      throw new TemplateError(`template ${name}: ${errorMessage(error)}`, name, { cause: error });
    }
  }
  return {
    render(view) {
      const files = new Map<string, string>();
      for (const [file, { name, template }] of compiled) {
        try {
          files.set(file, template(view));
        } catch (error) {
          throw new TemplateError(`template ${name}: ${errorMessage(error)}`, name, { cause: error });
        }
      }
      return files;
    },
  };
}
