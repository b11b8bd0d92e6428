import type Handlebars from 'handlebars';

type Node = hbs.AST.Node;

/** Block helpers whose output depends only on their argument and their blocks (no data, no side effects). */
const PURE_BLOCKS = new Set(['if', 'unless', 'each', 'with']);

const isContextPath = (node: Node, helpers: Readonly<Record<string, unknown>>): boolean => {
  if (node.type !== 'PathExpression') return false;
  const path = node as hbs.AST.PathExpression;
  // `@index`, `@root`, `../x` reach outside the context; a helper's name would call the helper.
  return !path.data && path.depth === 0 && !(path.original in helpers);
};

/** Names of the partials already proven context-only: invoking one on the context, alone, stays context-only. */
export type ContextOnlyPartials = ReadonlySet<string>;

export function programIsContextOnly(
  program: hbs.AST.Program | undefined,
  helpers: Readonly<Record<string, unknown>>,
  partials: ContextOnlyPartials = new Set(),
): boolean {
  if (!program) return true;
  if (program.blockParams && program.blockParams.length > 0) return false;
  return program.body.every((node) => statementIsContextOnly(node, helpers, partials));
}

function statementIsContextOnly(
  node: Node,
  helpers: Readonly<Record<string, unknown>>,
  partials: ContextOnlyPartials,
): boolean {
  switch (node.type) {
    case 'ContentStatement':
    case 'CommentStatement':
      return true;
    case 'MustacheStatement': {
      const m = node as hbs.AST.MustacheStatement;
      return m.params.length === 0 && !m.hash && isContextPath(m.path, helpers);
    }
    case 'BlockStatement': {
      const b = node as hbs.AST.BlockStatement;
      return (
        PURE_BLOCKS.has(b.path.original) &&
        b.path.depth === 0 &&
        !b.path.data &&
        !b.hash &&
        b.params.length === 1 &&
        isContextPath(b.params[0]!, helpers) &&
        programIsContextOnly(b.program, helpers, partials) &&
        programIsContextOnly(b.inverse, helpers, partials)
      );
    }
    case 'PartialStatement': {
      // `{{> name}}` on the same context, no arguments, of a partial proven context-only itself.
      const p = node as hbs.AST.PartialStatement;
      return p.name.type === 'PathExpression' && partials.has(p.name.original) && p.params.length === 0 && !p.hash;
    }
    default:
      return false; // other partials, decorators, anything else: not proven
  }
}

/**
 * Whether a template's output is a function of its context object alone: only plain paths into the context,
 * and `if`/`unless`/`each`/`with` over them — no `@data`, no `../`, no other helper, no nested partial. Such a
 * partial, invoked again on the same (immutable) context object, gives the same text, so it can be reused.
 */
export function isContextOnlyTemplate(
  source: string,
  handlebars: typeof Handlebars,
  partials: ContextOnlyPartials = new Set(),
): boolean {
  try {
    return programIsContextOnly(handlebars.parse(source), handlebars.helpers, partials);
  } catch {
    return false; // a syntax error is reported by compile, with its template's name
  }
}
