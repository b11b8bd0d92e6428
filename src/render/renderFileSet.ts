import type { NodeModel } from '../model/nodeModel.js';
import type { CustomFilterSpan, RenderedConfig } from './fileSet.js';
import type { IpipRendering } from './ipipMode.js';
import type { CompiledTemplateSet } from './templateSet.js';
import { buildTemplateView } from './templateView.js';

export interface RenderOptions {
  readonly ipip: IpipRendering;
}

/** Model + compiled templates → the node's complete file set. Pure and byte-stable. */
export function renderFileSet(model: NodeModel, templates: CompiledTemplateSet, options: RenderOptions): RenderedConfig {
  const files = templates.render(buildTemplateView(model, options.ipip));
  const customFilterSpans = [
    ...locateFilters(files, 'custom_filters.cfg', model.v4.customFilters),
    ...locateFilters(files, 'custom_filters6.cfg', model.v6.customFilters),
  ];
  return { files, customFilterSpans };
}

function locateFilters(files: ReadonlyMap<string, string>, file: string, filters: NodeModel['v4']['customFilters']): CustomFilterSpan[] {
  const text = files.get(file) ?? '';
  const spans: CustomFilterSpan[] = [];
  let from = 0;
  for (const filter of filters) {
    const at = text.indexOf(filter.body, from);
    if (at < 0) continue; // an overriding template may place filters elsewhere; then the error names only the file
    const firstLine = text.slice(0, at).split('\n').length;
    const lastLine = firstLine + filter.body.split('\n').length - 1;
    spans.push({ file, key: filter.key, firstLine, lastLine });
    from = at + filter.body.length;
  }
  return spans;
}
