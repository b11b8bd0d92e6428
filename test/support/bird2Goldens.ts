import { Command } from 'commander';
import { parseBirdVersionOption, type BirdVersion } from '../../src/bird/birdVersion.js';
import { addRoleOptions, type RoleFlags } from '../../src/cli/roleOptions.js';
import { parseBgpAddress, type IpAddress } from '../../src/model/address.js';
import { parseAsNumber } from '../../src/model/asNumber.js';
import { buildNodeModel } from '../../src/model/buildNodeModel.js';
import { buildReflectorModel } from '../../src/model/buildReflectorModel.js';
import { formatDiagnostic, type Diagnostic } from '../../src/model/diagnostics.js';
import { NodeConfigError } from '../../src/model/errors.js';
import type { NodeModel } from '../../src/model/nodeModel.js';
import type { ReflectorModel } from '../../src/model/reflectorModel.js';
import type { IpipRendering } from '../../src/render/ipipMode.js';
import { BIRD2_NODE_LAYOUT, BIRD2_REFLECTOR_LAYOUT } from '../../src/render/layouts.js';
import { renderBird2FileSet, renderBird2ReflectorFileSet } from '../../src/render/renderBird2FileSet.js';
import { loadTemplateSources } from '../../src/render/templateSources.js';
import { compileTemplateSet } from '../../src/render/templateSet.js';
import type { Scenario } from './fixtures.js';
import type { GoldenFiles } from './goldens.js';

/**
 * The BIRD 2/3 goldens beside the BIRD 1.6 ones (test/golden-bird2.test.ts, scripts/regenerate-goldens.ts): in
 * fixtures/<scenario>/expected-bird2*, names the 1.6 variants (`expected`, `expected-krt-tunnel`) cannot take.
 * `bird` is the version the rendering is for; `checkedBy` the real BIRDs whose `bird -p` must accept it.
 */
export interface Bird2Variant {
  readonly dir: string;
  readonly ipip: IpipRendering;
  readonly bird: string;
  readonly checkedBy: readonly string[];
}

export const BIRD2_VARIANTS: readonly Bird2Variant[] = [
  { dir: 'expected-bird2', ipip: 'off', bird: '2.0.12', checkedBy: ['2.0.12', '3.1.0', '3.3.2'] },
  // IPIP through upstream BIRD: kept where it differs from the plain golden (scenarios with IPIP pools).
  { dir: 'expected-bird2-onlink', ipip: 'onlink', bird: '3.3.2', checkedBy: ['2.0.12', '3.3.2'] },
  // BIRD 3.1 has no onlink: the same scenarios are the node's error (kept where rendering fails).
  { dir: 'expected-bird2-onlink-3.1.0', ipip: 'onlink', bird: '3.1.0', checkedBy: [] },
];

const version = (text: string): BirdVersion => {
  const parsed = parseBirdVersionOption(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

/** A scenario's role, from its arguments (as the CLI reads them): the node's name, or the reflector's identity. */
type ScenarioRole =
  | { readonly kind: 'node'; readonly nodeName: string }
  | {
      readonly kind: 'reflector';
      readonly ipv4: IpAddress;
      readonly ipv6: IpAddress | undefined;
      readonly asNumber: number | undefined;
    };

function scenarioRole(scenario: Scenario): ScenarioRole {
  const flags = addRoleOptions(new Command())
    .parse([...scenario.roleArgs], { from: 'user' })
    .opts<RoleFlags>();
  if (flags.role === 'node') return { kind: 'node', nodeName: flags.node! };
  const address = (text: string | undefined, family: 4 | 6): IpAddress | undefined => {
    if (text === undefined) return undefined;
    const parsed = parseBgpAddress(text, family);
    if (!parsed.ok) throw new Error(`${scenario.name}: ${parsed.reason}`);
    return parsed.value;
  };
  const as = flags.as === undefined ? undefined : parseAsNumber(flags.as);
  return {
    kind: 'reflector',
    ipv4: address(flags.ip, 4)!,
    ipv6: address(flags.ip6, 6),
    asNumber: as?.ok ? as.value : undefined,
  };
}

export type ScenarioModel =
  { readonly kind: 'node'; readonly model: NodeModel } | { readonly kind: 'reflector'; readonly model: ReflectorModel };

/** The scenario's model; a NodeConfigError is the scenario's error (its golden is error.txt). */
export function scenarioModel(scenario: Scenario): ScenarioModel {
  const role = scenarioRole(scenario);
  return role.kind === 'node'
    ? { kind: 'node', model: buildNodeModel(scenario.keyspace, { nodeName: role.nodeName }) }
    : { kind: 'reflector', model: buildReflectorModel(scenario.keyspace, role) };
}

const diagnosticsText = (diagnostics: readonly Diagnostic[]): string =>
  diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('');

/** The BIRD 2/3 rendering of a scenario: every file and the diagnostics, or error.txt. */
export async function renderBird2GoldenFiles(scenario: Scenario, variant: Bird2Variant): Promise<GoldenFiles> {
  const sources = await loadTemplateSources();
  const files: GoldenFiles = new Map();
  try {
    const built = scenarioModel(scenario);
    const rendered =
      built.kind === 'node'
        ? renderBird2FileSet(built.model, compileTemplateSet(sources, BIRD2_NODE_LAYOUT), {
            ipip: variant.ipip,
            bird: version(variant.bird),
          })
        : renderBird2ReflectorFileSet(built.model, compileTemplateSet(sources, BIRD2_REFLECTOR_LAYOUT));
    for (const [name, content] of rendered.files) files.set(name, content);
    files.set('diagnostics.txt', diagnosticsText(built.model.diagnostics));
  } catch (error) {
    if (!(error instanceof NodeConfigError)) throw error;
    files.set('error.txt', `${error.message}\n`);
  }
  return files;
}
