import { Command } from 'commander';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { addRoleOptions, resolveRole, type RoleFlags } from '../../src/cli/roleOptions.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { NodeConfigError } from '../../src/model/errors.js';
import type { IpipRendering } from '../../src/render/ipipMode.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import type { Scenario } from './fixtures.js';
import { BIRD_1_6 } from '../../src/bird/birdVersion.js';

/** What a scenario's golden directory holds: every output file, the diagnostics, or the error. */
export type GoldenFiles = Map<string, string>;

/** The golden variant directories: `expected` (Debian BIRD, --ipip off) and, for IPIP pools, `expected-krt-tunnel`. */
export const VARIANTS: readonly { dir: string; ipip: IpipRendering }[] = [
  { dir: 'expected', ipip: 'off' },
  { dir: 'expected-krt-tunnel', ipip: 'krt-tunnel' },
];

/** The role a scenario's arguments select, resolved exactly as the CLI does. */
function scenarioRole(scenario: Scenario, ipip: IpipRendering) {
  const flags = addRoleOptions(new Command())
    .parse([...scenario.roleArgs], { from: 'user' })
    .opts<RoleFlags>();
  return resolveRole(flags, {}, ipip, BIRD_1_6);
}

export async function renderGoldenFiles(scenario: Scenario, ipip: IpipRendering): Promise<GoldenFiles> {
  const role = scenarioRole(scenario, ipip);
  const templates = compileTemplateSet(await loadTemplateSources(), role.layout);
  const files: GoldenFiles = new Map();
  try {
    const rendered = role.render(scenario.keyspace, templates);
    for (const [name, content] of rendered.files) files.set(name, content);
    files.set('diagnostics.txt', rendered.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  } catch (error) {
    if (!(error instanceof NodeConfigError)) throw error;
    files.set('error.txt', `${error.message}\n`);
  }
  return files;
}

/** A krt-tunnel variant is only kept where it differs from the plain one (scenarios with IPIP pools). */
export const differsFrom = (a: GoldenFiles, b: GoldenFiles): boolean =>
  [...a].some(([name, content]) => b.get(name) !== content);
