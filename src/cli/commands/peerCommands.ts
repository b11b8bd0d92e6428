import type { Command } from 'commander';
import { addPeer, listPeers, removePeer, type PeerScope } from '../../operator/bgpPeers.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import { addEtcdOptions, resolveNodeName, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { addExamples } from '../helpText.js';
import { printJson } from '../jsonOutput.js';
import { asArgument, bgpAddressArgument, familiesOf, ipArgument, peerAsArguments } from '../operatorArguments.js';
import { runOperatorCommand } from '../operatorSession.js';
import { formatTable } from '../table.js';
import { printWriteReport } from '../writeReport.js';

interface PeerFlags extends EtcdFlags {
  readonly node?: string;
  readonly ipv4?: boolean;
  readonly ipv6?: boolean;
  readonly json?: boolean;
}

/**
 * `add <IP> as <AS>`, `remove <IP>`, `show` under `parent` (`bgp peer` for global peers, `node bgp peer` for
 * one node's peers, chosen with --node, else NODENAME, HOSTNAME, the hostname).
 */
export function addPeerCommands(parent: Command, context: CommandContext, scope: 'global' | 'node'): void {
  const withNode = (command: Command): Command =>
    scope === 'node'
      ? command.option('--node <name>', 'the node (default: NODENAME, HOSTNAME, then the hostname)')
      : command;
  const scopeOf = (flags: PeerFlags): PeerScope =>
    scope === 'global' ? { kind: 'global' } : { kind: 'node', node: resolveNodeName(flags.node, context.env) };
  const what = scope === 'global' ? 'a global BGP peer (every node peers with it)' : 'a BGP peer of one node';

  const prefix = scope === 'global' ? 'birdwatch bgp peer' : 'birdwatch node bgp peer';
  const nodeFlag = scope === 'node' ? ' --node calico-01' : '';
  addExamples(parent, [`${prefix} add 172.17.8.1 as 64567${nodeFlag}`, `${prefix} show${nodeFlag}`]);
  // `as` is a literal word (calicoctl's `<IP> as <AS>`): the arguments are taken loosely so that a missing
  // `as` gets a hint rather than commander's "missing required argument 'AS'".
  addExamples(withNode(addEtcdOptions(parent.command('add').argument('[IP]').argument('[as]').argument('[AS]'))), [
    `${prefix} add 172.17.8.1 as 64567${nodeFlag}`,
    `${prefix} add fd80:24e2:f998:72d6::1 as 1.10${nodeFlag}`,
  ])
    .usage('<IP> as <AS> [options]')
    .description(`add ${what}: IP as AS (asplain or asdot; "as" is a literal word)`)
    .action(
      async (ipText: string | undefined, word: string | undefined, asText: string | undefined, flags: PeerFlags) => {
        const words = peerAsArguments(scope === 'global' ? 'bgp peer add' : 'node bgp peer add', ipText, word, asText);
        const address = bgpAddressArgument('IP', words.ip);
        const asNumber = asArgument('AS', words.as);
        const peerScope = scopeOf(flags);
        await runOperatorCommand(flags, context, { [address.text]: 'IP' }, async (store) =>
          printWriteReport(context, await addPeer(store, peerScope, address, asNumber)),
        );
      },
    );

  addExamples(withNode(addEtcdOptions(parent.command('remove <IP>'))), [`${prefix} remove 172.17.8.1${nodeFlag}`])
    .description(`remove ${what}`)
    .action(async (ipText: string, flags: PeerFlags) => {
      const address = ipArgument('IP', ipText);
      const peerScope = scopeOf(flags);
      await runOperatorCommand(flags, context, {}, async (store) =>
        printWriteReport(context, await removePeer(store, peerScope, address)),
      );
    });

  addExamples(withNode(addEtcdOptions(parent.command('show'))), [
    `${prefix} show${nodeFlag}`,
    `${prefix} show --ipv4 --json${nodeFlag}`,
  ])
    .description(`list ${scope === 'global' ? 'global BGP peers' : "a node's BGP peers"}`)
    .option('--ipv4', 'IPv4 peers only')
    .option('--ipv6', 'IPv6 peers only')
    .option('--json', 'JSON for scripts')
    .action(async (flags: PeerFlags) => {
      const families = familiesOf(flags);
      const peerScope = scopeOf(flags);
      await runOperatorCommand(flags, context, {}, async (store) => {
        const listing = await listPeers(store, peerScope, families);
        for (const entry of listing.invalid) context.stderr(`warning: ${formatDiagnostic(entry)}`);
        if (flags.json === true) {
          printJson(context, {
            ...(peerScope.kind === 'node' ? { node: peerScope.node } : {}),
            peers: listing.peers.map((p) => ({
              family: p.address.family,
              address: p.address.text,
              asNumber: p.asNumber,
              key: p.key,
            })),
          });
          return;
        }
        const label = peerScope.kind === 'global' ? 'global BGP peers' : `BGP peers of node ${peerScope.node}`;
        for (const family of families) {
          const peers = listing.peers.filter((p) => p.address.family === family);
          if (peers.length === 0) {
            context.stdout(`No IPv${family} ${label}.`);
            continue;
          }
          context.stdout(`IPv${family} ${label}`);
          for (const line of formatTable(
            ['Peer address', 'AS number'],
            peers.map((p) => [p.address.text, p.asNumber]),
          ))
            context.stdout(line);
        }
      });
    });
}
