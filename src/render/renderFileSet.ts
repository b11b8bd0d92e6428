import type { NodeModel } from '../model/nodeModel.js';
import { locateEntrySpans } from './entrySpans.js';
import type { EntrySpan, RenderedConfig } from './fileSet.js';
import type { IpipRendering } from './ipipMode.js';
import type { CompiledTemplateSet } from './templateSet.js';
import { buildTemplateView } from './templateView.js';

export interface RenderOptions {
  readonly ipip: IpipRendering;
}

/**
 * Model + compiled templates → the node's complete file set, and where each entry's lines are. Pure and byte-stable.
 */
export function renderFileSet(
  model: NodeModel,
  templates: CompiledTemplateSet,
  options: RenderOptions,
): RenderedConfig {
  const files = templates.render(buildTemplateView(model, options.ipip));
  let spans: readonly EntrySpan[] | undefined;
  return { files, spans: () => (spans ??= locateEntrySpans(files, model)) };
}
