import type { Command } from 'commander';
import { getDefaultAsNumber, setDefaultAsNumber } from '../../operator/defaultAsNumber.js';
import { getNodeMesh, setNodeMesh } from '../../operator/nodeMesh.js';
import { keys } from '../../model/keys.js';
import { addEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { addExamples } from '../helpText.js';
import { printJson } from '../jsonOutput.js';
import { asArgument } from '../operatorArguments.js';
import { runOperatorCommand } from '../operatorSession.js';
import { UsageError } from '../usageError.js';
import { printWriteReport } from '../writeReport.js';
import { addPeerCommands } from './peerCommands.js';

interface ShowFlags extends EtcdFlags {
  readonly json?: boolean;
}

const sourceText = (source: 'set' | 'default' | 'invalid', key: string, stored: string | undefined): string =>
  source === 'set'
    ? `from ${key}`
    : source === 'default'
      ? `default: ${key} is not set`
      : `default: ${key} = ${JSON.stringify(stored)} is unreadable`;

/** `bgp peer …` (global peers), `bgp node-mesh [on|off]`, `bgp default-node-as [AS]`. */
export function registerBgpCommands(program: Command, context: CommandContext): void {
  const bgp = program.command('bgp').description('cluster-wide BGP settings (calicoctl bgp)');
  addExamples(bgp, [
    'birdwatch bgp peer add 172.17.8.1 as 64567',
    'birdwatch bgp node-mesh off',
    'birdwatch bgp default-node-as 64512',
  ]);
  addPeerCommands(bgp.command('peer').description('global BGP peers: every node peers with them'), context, 'global');

  addExamples(addEtcdOptions(bgp.command('node-mesh [state]')), [
    'birdwatch bgp node-mesh',
    'birdwatch bgp node-mesh off',
    'birdwatch bgp node-mesh on',
  ])
    .description('turn the full node-to-node mesh on or off; without an argument, show it')
    .option('--json', 'JSON for scripts (show)')
    .action(async (state: string | undefined, flags: ShowFlags) => {
      if (state !== undefined && state !== 'on' && state !== 'off')
        throw new UsageError('node-mesh', state, 'expected on or off');
      await runOperatorCommand(flags, context, {}, async (store) => {
        if (state !== undefined) {
          printWriteReport(context, await setNodeMesh(store, state === 'on'));
          return;
        }
        const mesh = await getNodeMesh(store);
        if (flags.json === true) printJson(context, { enabled: mesh.enabled, source: mesh.source });
        else
          context.stdout(
            `node-to-node mesh: ${mesh.enabled ? 'on' : 'off'} (${sourceText(mesh.source, keys.nodeMesh, mesh.stored)})`,
          );
      });
    });

  addExamples(addEtcdOptions(bgp.command('default-node-as [AS]')), [
    'birdwatch bgp default-node-as',
    'birdwatch bgp default-node-as 64512',
    'birdwatch bgp default-node-as 1.10',
  ])
    .description('set the AS of every node without its own (asplain or asdot); without an argument, show it')
    .option('--json', 'JSON for scripts (show)')
    .action(async (asText: string | undefined, flags: ShowFlags) => {
      const asNumber = asText === undefined ? undefined : asArgument('AS', asText);
      await runOperatorCommand(flags, context, {}, async (store) => {
        if (asNumber !== undefined) {
          printWriteReport(context, await setDefaultAsNumber(store, asNumber));
          return;
        }
        const global = await getDefaultAsNumber(store);
        if (flags.json === true) printJson(context, { asNumber: global.asNumber, source: global.source });
        else
          context.stdout(
            `default node AS: ${global.asNumber} (${sourceText(global.source, keys.globalAsNumber, global.stored)})`,
          );
      });
    });
}
