import type { Command } from 'commander';
import { resolveIpipRendering } from '../../controller/ipip.js';
import { renderToDirectory } from '../../controller/renderToDirectory.js';
import { loadTemplateSources } from '../../controller/templateSources.js';
import { formatValidationFailure } from '../../controller/validateStaged.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import { compileTemplateSet } from '../../render/templateSet.js';
import { addEtcdOptions, parseDatastore, parseIpipOption, resolveEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import { addRoleOptions, resolveRole, type RoleFlags } from '../roleOptions.js';
import { loadSnapshot } from '../loadSnapshot.js';
import type { CommandContext } from '../context.js';

interface RenderFlags extends EtcdFlags, RoleFlags {
  readonly out: string;
  readonly datastore: string;
  readonly templates?: string;
  readonly ipip: string;
  readonly validate: boolean;
  readonly bird: string;
  readonly bird6: string;
}

export function registerRender(program: Command, context: CommandContext): void {
  addRoleOptions(addEtcdOptions(program.command('render')))
    .description('render the BIRD configuration of one node into a directory and validate it with bird -p')
    .requiredOption('--out <dir>', 'directory to write bird.cfg, bird6.cfg and their includes into')
    .option('--datastore <source>', 'etcd, or file:PATH (a JSON object of key → value)', 'etcd')
    .option('--templates <dir>', 'override templates file by file')
    .option('--ipip <mode>', 'auto | krt-tunnel | off', 'auto')
    .option('--no-validate', 'write without running bird -p / bird6 -p')
    .option('--bird <path>', 'bird binary used for validation', 'bird')
    .option('--bird6 <path>', 'bird6 binary used for validation', 'bird6')
    .action(async (flags: RenderFlags) => {
      const datastore = parseDatastore(flags.datastore);
      const ipipOption = parseIpipOption(flags.ipip);
      const ipip = await resolveIpipRendering(ipipOption, flags.bird);
      const role = resolveRole(flags, context.env, ipip);
      const snapshot = await loadSnapshot(datastore, () => resolveEtcdOptions(flags, context.env));
      const templates = compileTemplateSet(await loadTemplateSources(flags.templates), role.layout);
      const result = await renderToDirectory({
        snapshot,
        role,
        outDir: flags.out,
        templates,
        binaries: flags.validate ? { bird: flags.bird, bird6: flags.bird6 } : undefined,
      });
      for (const diagnostic of result.rendered.diagnostics) context.stderr(`warning: ${formatDiagnostic(diagnostic)}`);
      if (ipip === 'off' && result.rendered.ipipPools > 0) {
        context.stderr('warning: this bird does not support krt_tunnel: IPIP pools are exported and routed natively (--ipip off)');
      }
      for (const line of result.rendered.summary) context.stdout(line);
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
