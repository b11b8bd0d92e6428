import { buildNodeModel } from '../../src/model/buildNodeModel.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { isNodeConfigError } from '../../src/model/errors.js';
import { loadTemplateSources } from '../../src/controller/templateSources.js';
import type { IpipRendering } from '../../src/render/ipipMode.js';
import { renderFileSet } from '../../src/render/renderFileSet.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import type { Scenario } from './fixtures.js';

/** What a scenario's golden directory holds: every output file, the diagnostics, or the error. */
export type GoldenFiles = Map<string, string>;

/** The golden variant directories: `expected` (Debian BIRD, --ipip off) and, for IPIP pools, `expected-krt-tunnel`. */
export const VARIANTS: readonly { dir: string; ipip: IpipRendering }[] = [
  { dir: 'expected', ipip: 'off' },
  { dir: 'expected-krt-tunnel', ipip: 'krt-tunnel' },
];

export async function renderGoldenFiles(scenario: Scenario, ipip: IpipRendering): Promise<GoldenFiles> {
  const templates = compileTemplateSet(await loadTemplateSources());
  const files: GoldenFiles = new Map();
  try {
    const model = buildNodeModel(scenario.keyspace, { nodeName: scenario.node });
    for (const [name, content] of renderFileSet(model, templates, { ipip }).files) files.set(name, content);
    files.set('diagnostics.txt', model.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  } catch (error) {
    if (!isNodeConfigError(error)) throw error;
    files.set('error.txt', `${error.message}\n`);
  }
  return files;
}

/** A krt-tunnel variant is only kept where it differs from the plain one (scenarios with IPIP pools). */
export const differsFrom = (a: GoldenFiles, b: GoldenFiles): boolean => [...a].some(([name, content]) => b.get(name) !== content);
