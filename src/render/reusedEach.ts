import type Handlebars from 'handlebars';
import { derivationOf, type ListEdit } from '../model/listEdits.js';
import { programIsContextOnly, type ContextOnlyPartials } from './contextOnlyPartial.js';

/** The hash argument that marks an `{{#each}}` block whose body depends on the item alone (never in a template). */
const BLOCK_KEY = 'birdwatchReusedBlock';
/** Rendered items per chunk: an edit joins one chunk again, a render concatenates the chunks. */
const CHUNK = 64;

interface Chunk {
  readonly texts: readonly string[];
  readonly text: string;
}

const chunkOf = (texts: readonly string[]): Chunk => ({ texts, text: texts.join('') });

function chunked(texts: readonly string[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (let i = 0; i < texts.length; i += CHUNK) chunks.push(chunkOf(texts.slice(i, i + CHUNK)));
  return chunks;
}

/** `base` with the list's edits applied: only the chunks they fall in are joined again. */
function edited(
  base: readonly Chunk[],
  edits: readonly ListEdit<unknown>[],
  textOf: (item: unknown) => string,
): Chunk[] {
  const chunks = base.slice();
  for (const edit of edits) {
    let at = edit.at;
    let i = 0;
    while (i < chunks.length - 1 && at >= chunks[i]!.texts.length) at -= chunks[i++]!.texts.length;
    const texts = chunks[i] ? chunks[i]!.texts.slice() : [];
    if (edit.removed !== undefined) texts.splice(at, 1);
    if (edit.inserted !== undefined) texts.splice(at, 0, textOf(edit.inserted));
    if (texts.length === 0) chunks.splice(i, 1);
    else if (texts.length > 2 * CHUNK) chunks.splice(i, 1, chunkOf(texts.slice(0, CHUNK)), chunkOf(texts.slice(CHUNK)));
    else chunks[i] = chunkOf(texts);
  }
  return chunks;
}

/**
 * One marked block's output, kept: each item's text (weakly, by item object) and each list's chunks (weakly, by
 * list). A list the model made from one rendered before (listEdits.ts) is rendered by its edits: the body runs for
 * the items inserted, and only their chunks are joined again.
 */
class ReusedBlock {
  readonly #texts = new WeakMap<object, string>();
  readonly #chunks = new WeakMap<readonly unknown[], readonly Chunk[]>();

  render(list: readonly unknown[], body: (item: unknown) => string): string {
    let chunks = this.#chunks.get(list);
    if (!chunks) {
      const derivation = derivationOf(list);
      const base = derivation && this.#chunks.get(derivation.from);
      const textOf = (item: unknown): string => this.#text(item, body);
      chunks = derivation && base ? edited(base, derivation.edits, textOf) : chunked(list.map(textOf));
      this.#chunks.set(list, chunks);
    }
    let text = '';
    for (const chunk of chunks) text += chunk.text;
    return text;
  }

  #text(item: unknown, body: (item: unknown) => string): string {
    if (typeof item !== 'object' || item === null) return body(item);
    let text = this.#texts.get(item);
    if (text === undefined) {
      text = body(item);
      this.#texts.set(item, text);
    }
    return text;
  }
}

function isReusableEach(
  block: hbs.AST.BlockStatement,
  helpers: Readonly<Record<string, unknown>>,
  partials: ContextOnlyPartials,
): boolean {
  const path = block.path;
  const param = block.params[0] as hbs.AST.PathExpression | undefined;
  return (
    block.path.type === 'PathExpression' &&
    path.original === 'each' &&
    path.depth === 0 &&
    !path.data &&
    !block.hash &&
    block.params.length === 1 &&
    param?.type === 'PathExpression' &&
    !param.data &&
    param.depth === 0 &&
    !(param.original in helpers) &&
    programIsContextOnly(block.program, helpers, partials)
  );
}

/**
 * Marks, in a template's raw AST (Handlebars.parseWithoutProcessing), every `{{#each list}}` block whose body
 * depends on the item alone (contextOnlyPartial.ts: plain paths, `if`/`each`… over them, context-only partials):
 * the `each` of `reuseEachBlocks` renders those from what it kept. `nextId` numbers the blocks of one environment.
 */
export function markReusableEachBlocks(
  program: hbs.AST.Program,
  helpers: Readonly<Record<string, unknown>>,
  partials: ContextOnlyPartials,
  nextId: () => number,
): void {
  const visit = (p: hbs.AST.Program | undefined): void => {
    for (const node of p?.body ?? []) {
      if (node.type !== 'BlockStatement') continue;
      const block = node as hbs.AST.BlockStatement;
      visit(block.program);
      visit(block.inverse);
      if (!isReusableEach(block, helpers, partials)) continue;
      const id = nextId();
      const value = { type: 'NumberLiteral', value: id, original: id, loc: block.loc } as hbs.AST.NumberLiteral;
      block.hash = {
        type: 'Hash',
        loc: block.loc,
        pairs: [{ type: 'HashPair', loc: block.loc, key: BLOCK_KEY, value }],
      };
    }
  };
  visit(program);
}

/**
 * Replaces an environment's `each`: a marked block over a non-empty array is rendered from what it kept (its
 * output is the concatenation of its body for each item, which depends on the item alone); everything else goes
 * to Handlebars' own `each`.
 */
export function reuseEachBlocks(handlebars: typeof Handlebars): void {
  const own = handlebars.helpers['each'] as Handlebars.HelperDelegate;
  const blocks = new Map<number, ReusedBlock>();
  handlebars.registerHelper('each', function (this: unknown, list: unknown, options: Handlebars.HelperOptions) {
    const id: unknown = (options.hash as Record<string, unknown> | undefined)?.[BLOCK_KEY];
    if (typeof id !== 'number' || !Array.isArray(list) || list.length === 0) return own.call(this, list, options);
    let block = blocks.get(id);
    if (!block) blocks.set(id, (block = new ReusedBlock()));
    return block.render(list, (item) => options.fn(item));
  });
}
