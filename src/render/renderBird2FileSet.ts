import { featureRanges, type BirdVersion } from '../bird/birdVersion.js';
import { NodeConfigError } from '../model/errors.js';
import { keys } from '../model/keys.js';
import type { NodeModel } from '../model/nodeModel.js';
import type { ReflectorModel } from '../model/reflectorModel.js';
import { buildBird2ReflectorView, buildBird2View } from './bird2View.js';
import { BIRD2_SPAN_FILES, locateEntrySpans } from './entrySpans.js';
import type { EntrySpan, RenderedConfig } from './fileSet.js';
import type { IpipRendering } from './ipipMode.js';
import type { CompiledTemplateSet } from './templateSet.js';

export interface Bird2RenderOptions {
  readonly ipip: IpipRendering;
  /** The BIRD that will read the files: its version gates what can be rendered (birdVersion.ts). */
  readonly bird: Pick<BirdVersion, 'text' | 'features'>;
}

/**
 * The IPIP pool that cannot be rendered for this BIRD, as the node's error: the pool's key, the version, and what
 * to do. An IPIP pool is never quietly routed natively here: `--ipip off` says so on purpose.
 */
function refuseIpip(model: NodeModel, options: Bird2RenderOptions): void {
  const pool = model.v4.pools.find((p) => p.ipipInterface !== undefined);
  if (!pool || options.ipip === 'off') return;
  if (options.ipip === 'onlink' && options.bird.features.onlink) return;
  const key = keys.pool(4, pool.cidr.text);
  const why =
    options.ipip === 'krt-tunnel'
      ? `--ipip krt-tunnel needs Calico's BIRD 1.6 fork, and this is BIRD ${options.bird.text}`
      : `BIRD ${options.bird.text} has no onlink route attribute (BIRD has it ${featureRanges('onlink')})`;
  throw new NodeConfigError(
    `IPIP pool ${pool.cidr.text} (${key}) cannot be routed through ${pool.ipipInterface}: ${why}; ` +
      'install a newer BIRD, or run with --ipip off to leave IPIP routes to the dataplane (as Calico 3.33+ does)',
    key,
  );
}

/**
 * Model + compiled BIRD 2/3 templates (layouts.ts BIRD2_NODE_LAYOUT) → one daemon's file set and where each
 * entry's lines are. Pure and byte-stable. Throws NodeConfigError for an IPIP pool this BIRD cannot tunnel.
 */
export function renderBird2FileSet(
  model: NodeModel,
  templates: CompiledTemplateSet,
  options: Bird2RenderOptions,
): RenderedConfig {
  refuseIpip(model, options);
  const files = templates.render(buildBird2View(model, options.ipip));
  let spans: readonly EntrySpan[] | undefined;
  return { files, spans: () => (spans ??= locateEntrySpans(files, model, BIRD2_SPAN_FILES)) };
}

/** Reflector model + compiled BIRD 2/3 reflector template → bird.cfg. Pure and byte-stable. */
export function renderBird2ReflectorFileSet(model: ReflectorModel, templates: CompiledTemplateSet): RenderedConfig {
  return { files: templates.render(buildBird2ReflectorView(model)), spans: () => [] };
}
