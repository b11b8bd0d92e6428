import type { ReflectorModel } from '../model/reflectorModel.js';
import type { RenderedConfig } from './fileSet.js';
import { buildReflectorView } from './reflectorView.js';
import type { CompiledTemplateSet } from './templateSet.js';

/** Reflector model + compiled reflector templates → bird.cfg and bird6.cfg. Pure and byte-stable. */
export function renderReflectorFileSet(model: ReflectorModel, templates: CompiledTemplateSet): RenderedConfig {
  return { files: templates.render(buildReflectorView(model)), spans: () => [] };
}
