import type { Command } from 'commander';
import { resolveIpipRendering } from '../../controller/ipip.js';
import { renderToDirectory } from '../../controller/renderToDirectory.js';
import { loadTemplateSources } from '../../controller/templateSources.js';
import { formatValidationFailure } from '../../controller/validateStaged.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import type { FamilyModel, NodeModel } from '../../model/nodeModel.js';
import { compileTemplateSet } from '../../render/templateSet.js';
import { addEtcdOptions, parseDatastore, parseIpipOption, resolveEtcdOptions, resolveNodeName, type EtcdFlags } from '../commonOptions.js';
import { loadSnapshot } from '../loadSnapshot.js';
import type { CommandContext } from '../context.js';

interface RenderFlags extends EtcdFlags {
  readonly node?: string;
  readonly out: string;
  readonly datastore: string;
  readonly templates?: string;
  readonly ipip: string;
  readonly validate: boolean;
  readonly bird: string;
  readonly bird6: string;
}

function familySummary(family: FamilyModel): string {
  if (!family.address) return family.family === 6 ? 'IPv6 disabled (no ip_addr_v6)' : 'BGP disabled';
  const count = (kind: string) => family.peers.filter((p) => p.kind === kind).length;
  return `${count('mesh')} mesh, ${count('global')} global, ${count('node')} node-specific peers; ${family.pools.length} pools; ${family.blocks.length} blocks; ${family.customFilters.length} custom filters`;
}

export function summarizeModel(model: NodeModel): string[] {
  return [
    `node ${model.nodeName}: router id ${model.routerId.text}, AS ${model.asNumber}, node-to-node mesh ${model.meshEnabled ? 'on' : 'off'}, log level ${model.logLevel}`,
    `  bird.cfg:  ${familySummary(model.v4)}`,
    `  bird6.cfg: ${familySummary(model.v6)}`,
    `  skipped entries: ${model.diagnostics.length}`,
  ];
}

export function registerRender(program: Command, context: CommandContext): void {
  addEtcdOptions(program.command('render'))
    .description('render the BIRD configuration of one node into a directory and validate it with bird -p')
    .option('--node <name>', 'node name (default: NODENAME, HOSTNAME, then the hostname)')
    .requiredOption('--out <dir>', 'directory to write bird.cfg, bird6.cfg and their includes into')
    .option('--datastore <source>', 'etcd, or file:PATH (a JSON object of key → value)', 'etcd')
    .option('--templates <dir>', 'override templates file by file')
    .option('--ipip <mode>', 'auto | krt-tunnel | off', 'auto')
    .option('--no-validate', 'write without running bird -p / bird6 -p')
    .option('--bird <path>', 'bird binary used for validation', 'bird')
    .option('--bird6 <path>', 'bird6 binary used for validation', 'bird6')
    .action(async (flags: RenderFlags) => {
      const nodeName = resolveNodeName(flags.node, context.env);
      const datastore = parseDatastore(flags.datastore);
      const ipipOption = parseIpipOption(flags.ipip);
      const snapshot = await loadSnapshot(datastore, () => resolveEtcdOptions(flags, context.env));
      const templates = compileTemplateSet(await loadTemplateSources(flags.templates));
      const ipip = await resolveIpipRendering(ipipOption, flags.bird);
      const result = await renderToDirectory({
        snapshot,
        nodeName,
        outDir: flags.out,
        templates,
        ipip,
        binaries: flags.validate ? { bird: flags.bird, bird6: flags.bird6 } : undefined,
      });
      for (const diagnostic of result.model.diagnostics) context.stderr(`warning: ${formatDiagnostic(diagnostic)}`);
      if (ipip === 'off' && result.model.v4.pools.some((p) => p.ipipInterface !== undefined)) {
        context.stderr('warning: this bird does not support krt_tunnel: IPIP pools are exported and routed natively (--ipip off)');
      }
      for (const line of summarizeModel(result.model)) context.stdout(line);
      if (result.failure) {
        context.stderr(`error: ${formatValidationFailure(result.failure)}`);
        context.stderr(`nothing was written to ${flags.out}`);
        context.setExitCode(1);
        return;
      }
      const validated = flags.validate ? 'validated by bird -p and bird6 -p' : 'not validated (--no-validate)';
      context.stdout(`wrote ${flags.out} (${result.changed.length} files changed, ${validated})`);
    });
}
