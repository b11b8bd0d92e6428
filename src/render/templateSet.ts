import Handlebars from 'handlebars';
import { isContextOnlyTemplate } from './contextOnlyPartial.js';
import { markReusableEachBlocks, reuseEachBlocks } from './reusedEach.js';
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
function reusingPartial(template: HandlebarsTemplateDelegate<object>): HandlebarsTemplateDelegate<unknown> {
  const rendered = new WeakMap<object, string>();
  return (context: unknown, options?: Handlebars.RuntimeOptions) => {
    if (typeof context !== 'object' || context === null) return template(context as object, options);
    let text = rendered.get(context);
    if (text === undefined) {
      text = template(context, options);
      rendered.set(context, text);
    }
    return text;
  };
}

/**
 * A template compiled with its reusable `{{#each}}` blocks marked (reusedEach.ts); a source that does not parse
 * is compiled as it is, so its error is reported where it always was (at its first render, with its name).
 */
function compileMarked(
  handlebars: typeof Handlebars,
  source: string,
  contextOnly: ReadonlySet<string>,
  nextId: () => number,
): HandlebarsTemplateDelegate<object> {
  let ast: hbs.AST.Program;
  try {
    ast = handlebars.parseWithoutProcessing(source);
  } catch {
    return handlebars.compile<object>(source, COMPILE_OPTIONS);
  }
  markReusableEachBlocks(ast, handlebars.helpers, contextOnly, nextId);
  return handlebars.compile<object>(ast, COMPILE_OPTIONS);
}

/**
 * Compiles once; every render reuses the compiled functions. Each set gets its own Handlebars environment (no
 * global registry), no HTML escaping (it would corrupt BIRD syntax) and strict mode (a missing field is an error).
 */
export function compileTemplateSet(sources: TemplateSources, layout: Layout = NODE_LAYOUT): CompiledTemplateSet {
  // One environment per partials directory: the BIRD 1.6 and BIRD 2/3 sets have partials of the same name.
  const environments = new Map<string, typeof Handlebars>();
  const contextOnlyIn = new Map<typeof Handlebars, ReadonlySet<string>>();
  let blocks = 0;
  const nextId = (): number => ++blocks;
  const environment = (dir: string): typeof Handlebars => {
    let handlebars = environments.get(dir);
    if (handlebars) return handlebars;
    handlebars = Handlebars.create();
    reuseEachBlocks(handlebars);
    const partials = new Map<string, string>();
    for (const [name, source] of sources) {
      if (!name.startsWith(dir)) continue;
      const match = /^([A-Za-z0-9_-]+)\.hbs$/.exec(name.slice(dir.length));
      if (match) partials.set(match[1]!, source);
    }
    // Context-only partials, to a fixed point: one may invoke another.
    const contextOnly = new Set<string>();
    for (let grew = true; grew;) {
      grew = false;
      for (const [name, source] of partials)
        if (!contextOnly.has(name) && isContextOnlyTemplate(source, handlebars, contextOnly)) {
          contextOnly.add(name);
          grew = true;
        }
    }
    for (const [name, source] of partials) {
      const template = compileMarked(handlebars, source, contextOnly, nextId);
      handlebars.registerPartial(name, contextOnly.has(name) ? reusingPartial(template) : template);
    }
    environments.set(dir, handlebars);
    contextOnlyIn.set(handlebars, contextOnly);
    return handlebars;
  };
  const compiled = new Map<string, { name: string; template: HandlebarsTemplateDelegate<object> }>();
  for (const { file, template: name, partials = DEFAULT_PARTIALS } of layout) {
    const source = sources.get(name);
    if (source === undefined) throw new TemplateError(`template ${name} is missing`, name);
    try {
      compiled.set(file, {
        name,
        template: ((handlebars) => compileMarked(handlebars, source, contextOnlyIn.get(handlebars)!, nextId))(
          environment(partials),
        ),
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
