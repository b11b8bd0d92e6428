import type { Command } from 'commander';
import { addRouteReflector, listRouteReflectors, removeRouteReflector } from '../../operator/routeReflectors.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import { addEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { addExamples } from '../helpText.js';
import { printJson } from '../jsonOutput.js';
import { asArgument, bgpAddressArgument, clusterIdArgument, ipArgument } from '../operatorArguments.js';
import { runOperatorCommand } from '../operatorSession.js';
import { formatTable } from '../table.js';
import { printWriteReport } from '../writeReport.js';

interface RrAddFlags extends EtcdFlags {
  readonly clusterId?: string;
  readonly as?: string;
}

interface RrShowFlags extends EtcdFlags {
  readonly json?: boolean;
}

/** `bgppeer rr add|remove|show` (calicoctl v0.4): route reflectors, registered and peered in one transaction. */
export function registerBgpPeerCommands(program: Command, context: CommandContext): void {
  const bgppeer = addExamples(program.command('bgppeer').description('route reflectors (calicoctl bgppeer)'), [
    'birdwatch bgppeer rr add 10.0.0.100 --cluster-id 1.0.0.1',
    'birdwatch bgppeer rr show',
  ]);
  const rr = addExamples(
    bgppeer.command('rr').description('route reflectors: registered under rr_v4|rr_v6 and global peers of every node'),
    ['birdwatch bgppeer rr add 10.0.0.100 --cluster-id 1.0.0.1', 'birdwatch bgppeer rr show --json'],
  );

  addExamples(addEtcdOptions(rr.command('add <IP>')), [
    'birdwatch bgppeer rr add 10.0.0.100 --cluster-id 1.0.0.1',
    'birdwatch bgppeer rr add 10.0.0.100 --as 64512',
  ])
    .description('register a route reflector and make it a global peer of every node (one etcd transaction)')
    .option('--cluster-id <id>', 'the reflector cluster id (dotted quad, e.g. 1.0.0.1, or a number 1-4294967295)')
    .option('--as <AS>', 'AS the nodes peer with it in (default: the global AS, 64511 when unset)')
    .action(async (ipText: string, flags: RrAddFlags) => {
      const address = bgpAddressArgument('IP', ipText);
      const clusterId = flags.clusterId === undefined ? undefined : clusterIdArgument('--cluster-id', flags.clusterId);
      const asNumber = flags.as === undefined ? undefined : asArgument('--as', flags.as);
      await runOperatorCommand(flags, context, { [address.text]: 'IP' }, async (store) =>
        printWriteReport(context, await addRouteReflector(store, { address, clusterId, asNumber })),
      );
    });

  addExamples(addEtcdOptions(rr.command('remove <IP>')), ['birdwatch bgppeer rr remove 10.0.0.100'])
    .description('remove a route reflector and its global peer entry (one etcd transaction)')
    .action(async (ipText: string, flags: EtcdFlags) => {
      const address = ipArgument('IP', ipText);
      await runOperatorCommand(flags, context, {}, async (store) =>
        printWriteReport(context, await removeRouteReflector(store, address)),
      );
    });

  addExamples(addEtcdOptions(rr.command('show')), ['birdwatch bgppeer rr show', 'birdwatch bgppeer rr show --json'])
    .description('list route reflectors with their cluster id and peering AS')
    .option('--json', 'JSON for scripts')
    .action(async (flags: RrShowFlags) => {
      await runOperatorCommand(flags, context, {}, async (store) => {
        const listing = await listRouteReflectors(store);
        for (const entry of listing.invalid) context.stderr(`warning: ${formatDiagnostic(entry)}`);
        if (flags.json === true) {
          printJson(context, {
            routeReflectors: listing.reflectors.map((r) => ({
              family: r.address.family,
              address: r.address.text,
              clusterId: r.clusterId ?? null,
              peerAsNumber: r.peerAsNumber ?? null,
              key: r.key,
            })),
          });
          return;
        }
        if (listing.reflectors.length === 0) {
          context.stdout('No route reflectors.');
          return;
        }
        const rows = listing.reflectors.map((r) => [
          r.address.text,
          r.clusterId ?? '(none)',
          r.peerAsNumber === undefined ? 'not a global peer' : `global peer, AS ${r.peerAsNumber}`,
        ]);
        for (const line of formatTable(['Reflector address', 'Cluster ID', 'Peering'], rows)) context.stdout(line);
      });
    });
}
