import type { Command } from 'commander';
import { setBgpLogLevel } from '../../operator/bgpLogLevel.js';
import { addEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { addExamples } from '../helpText.js';
import { logLevelArgument, nodeNameArgument } from '../operatorArguments.js';
import { runOperatorCommand } from '../operatorSession.js';
import { printWriteReport } from '../writeReport.js';

interface LogLevelFlags extends EtcdFlags {
  readonly node?: string;
}

/**
 * `config bgp loglevel none|debug|info [--node NAME]` (calicoctl `config bgp loglevel` / `config node bgp loglevel`).
 */
export function registerConfigCommands(program: Command, context: CommandContext): void {
  const config = addExamples(program.command('config').description('BIRD settings (calicoctl config)'), [
    'birdwatch config bgp loglevel debug',
  ]);
  const bgp = addExamples(config.command('bgp').description('BGP daemon settings'), [
    'birdwatch config bgp loglevel info',
  ]);
  addExamples(addEtcdOptions(bgp.command('loglevel <level>')), [
    'birdwatch config bgp loglevel debug',
    'birdwatch config bgp loglevel none --node calico-01',
  ])
    .description(
      'BIRD logging: none, debug (debug all) or info (debug { states }); cluster-wide, or for one node with --node',
    )
    .option('--node <name>', 'set it for this node only (overrides the cluster-wide level)')
    .action(async (levelText: string, flags: LogLevelFlags) => {
      const level = logLevelArgument('level', levelText);
      const node = flags.node === undefined ? undefined : nodeNameArgument('--node', flags.node);
      await runOperatorCommand(flags, context, {}, async (store) =>
        printWriteReport(context, await setBgpLogLevel(store, level, node)),
      );
    });
}
