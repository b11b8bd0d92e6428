import type { Command } from 'commander';
import { addPeer, listPeers, removePeer, type PeerScope } from '../../controller/operator/bgpPeers.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import { addEtcdOptions, resolveNodeName, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { printJson } from '../jsonOutput.js';
import { asArgument, asKeyword, bgpAddressArgument, familiesOf, ipArgument } from '../operatorArguments.js';
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
    scope === 'node' ? command.option('--node <name>', 'the node (default: NODENAME, HOSTNAME, then the hostname)') : command;
  const scopeOf = (flags: PeerFlags): PeerScope =>
    scope === 'global' ? { kind: 'global' } : { kind: 'node', node: resolveNodeName(flags.node, context.env) };
  const what = scope === 'global' ? 'a global BGP peer (every node peers with it)' : 'a BGP peer of one node';

  withNode(addEtcdOptions(parent.command('add <IP> <as> <AS>')))
    .description(`add ${what}: IP as AS (asplain or asdot)`)
    .action(async (ipText: string, word: string, asText: string, flags: PeerFlags) => {
      const address = bgpAddressArgument('IP', ipText);
      asKeyword(word);
      const asNumber = asArgument('AS', asText);
      const peerScope = scopeOf(flags);
      await runOperatorCommand(flags, context, { [address.text]: 'IP' }, async (store) =>
        printWriteReport(context, await addPeer(store, peerScope, address, asNumber)),
      );
    });

  withNode(addEtcdOptions(parent.command('remove <IP>')))
    .description(`remove ${what}`)
    .action(async (ipText: string, flags: PeerFlags) => {
      const address = ipArgument('IP', ipText);
      const peerScope = scopeOf(flags);
      await runOperatorCommand(flags, context, {}, async (store) => printWriteReport(context, await removePeer(store, peerScope, address)));
    });

  withNode(addEtcdOptions(parent.command('show')))
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
            peers: listing.peers.map((p) => ({ family: p.address.family, address: p.address.text, asNumber: p.asNumber, key: p.key })),
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
          for (const line of formatTable(['Peer address', 'AS number'], peers.map((p) => [p.address.text, p.asNumber]))) context.stdout(line);
        }
      });
    });
}
