import type { Command } from 'commander';
import { listNodes, registerNode, removeNode } from '../../operator/nodes.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import { addEtcdOptions, resolveNodeName, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { addExamples } from '../helpText.js';
import { printJson } from '../jsonOutput.js';
import { AutodetectionError, systemHostAddresses } from '../addressAutodetection.js';
import {
  addressArgument,
  networkOf,
  parseAddressSetting,
  parseAsSetting,
  resolveAddressSetting,
  type ResolvedAddress,
} from '../nodeAddressOptions.js';
import { cidrArgument, nodeNameArgument } from '../operatorArguments.js';
import { UsageError } from '../usageError.js';
import { runOperatorCommand } from '../operatorSession.js';
import { formatTable } from '../table.js';
import { printWriteReport } from '../writeReport.js';
import { addPeerCommands } from './peerCommands.js';

interface RegisterFlags extends EtcdFlags {
  readonly node?: string;
  readonly ip?: string;
  readonly ip6?: string;
  readonly as?: string;
  readonly network?: string;
}

interface RemoveFlags extends EtcdFlags {
  readonly node: string;
}

interface ShowFlags extends EtcdFlags {
  readonly json?: boolean;
}

/** `node register|remove|show` and `node bgp peer …` (node-specific peers). */
export function registerNodeCommands(program: Command, context: CommandContext): void {
  const node = program.command('node').description("nodes' BGP registration: addresses and AS (calicoctl node)");
  addExamples(node, [
    'birdwatch node register --node calico-01 --ip 172.17.8.101',
    'birdwatch node show',
    'birdwatch node bgp peer add 172.17.8.1 as 64567 --node calico-01',
  ]);

  addExamples(addEtcdOptions(node.command('register')), [
    'birdwatch node register --node calico-01 --ip 172.17.8.101',
    'birdwatch node register --node calico-02 --ip 172.17.8.102 --ip6 fd80:24e2:f998:72d6::2 --as 64513',
    'NODENAME=calico-01 birdwatch node register --ip 172.17.8.101 --network 172.17.8.0/24',
  ])
    .description('register a node: its BGP addresses and AS (one etcd transaction)')
    .option('--node <name>', 'the node (default: NODENAME, HOSTNAME, then the hostname)')
    .option(
      '--ip <address>',
      "the node's IPv4 address (router id, source address, mesh address), or autodetect (default: IP; required)",
    )
    .option(
      '--ip6 <address>',
      "the node's IPv6 address, autodetect, or none (default: IP6; without one IPv6 BGP is off on the node)",
    )
    .option('--as <AS>', "the node's own AS (default: AS; without it the node uses the global AS)")
    .option(
      '--network <cidr>',
      "the node's IPv4 subnet (network_v4, for IPIP cross-subnet); left as is when absent (autodetect sets it)",
    )
    .addHelpText(
      'after',
      '\nautodetect finds the address on this host as calico-node did, by IP_AUTODETECTION_METHOD / IP6_AUTODETECTION_METHOD:\n' +
        '  first-found (default), can-reach=DEST, interface=REGEX[,REGEX], skip-interface=REGEX[,REGEX]',
    )
    .action(async (flags: RegisterFlags) => {
      const name = resolveNodeName(flags.node, context.env);
      const v4Setting = parseAddressSetting(4, flags.ip, context.env);
      const v6Setting = parseAddressSetting(6, flags.ip6, context.env);
      if (v4Setting.kind === 'unset') {
        throw new UsageError(
          '--ip',
          undefined,
          "required: the node's IPv4 address (--ip or IP; IP=autodetect finds it on this host)",
        );
      }
      const asNumber = parseAsSetting(flags.as, context.env);
      const explicitNetwork = flags.network === undefined ? undefined : cidrArgument('--network', flags.network, 4);
      const host = context.hostAddresses ?? systemHostAddresses;
      let v4: ResolvedAddress | undefined;
      let v6: ResolvedAddress | undefined;
      try {
        v4 = await resolveAddressSetting(4, v4Setting, host);
        v6 = await resolveAddressSetting(6, v6Setting, host);
      } catch (error) {
        if (!(error instanceof AutodetectionError)) throw error;
        context.stderr(`error: ${error.message}`);
        context.setExitCode(1);
        return;
      }
      if (v4 === undefined) throw new UsageError('--ip', undefined, "required: the node's IPv4 address");
      for (const resolved of [v4, v6]) if (resolved?.note !== undefined) context.stdout(resolved.note);
      const ipv4 = v4.address;
      const ipv6 = v6?.address;
      const networkV4 = explicitNetwork ?? (v4.detected !== undefined ? networkOf(v4.detected) : undefined);
      const argumentOf: Record<string, string> = { [ipv4.text]: addressArgument(4, flags.ip, context.env).argument };
      if (ipv6 !== undefined) argumentOf[ipv6.text] = addressArgument(6, flags.ip6, context.env).argument;
      if (networkV4 !== undefined) argumentOf[networkV4.text] = '--network';
      await runOperatorCommand(flags, context, argumentOf, async (store) =>
        printWriteReport(context, await registerNode(store, { name, ipv4, ipv6, asNumber, networkV4 })),
      );
    });

  addExamples(addEtcdOptions(node.command('remove')), ['birdwatch node remove --node calico-02'])
    .description("remove a node's BGP keys (/calico/bgp/v1/host/NAME/); its IPAM blocks are kept")
    .requiredOption('--node <name>', 'the node (required: removal never defaults to this host)')
    .action(async (flags: RemoveFlags) => {
      const name = nodeNameArgument('--node', flags.node);
      await runOperatorCommand(flags, context, {}, async (store) =>
        printWriteReport(context, await removeNode(store, name)),
      );
    });

  addExamples(addEtcdOptions(node.command('show')), ['birdwatch node show', 'birdwatch node show --json'])
    .description('list nodes: addresses, own AS and the AS they run with')
    .option('--json', 'JSON for scripts')
    .action(async (flags: ShowFlags) => {
      await runOperatorCommand(flags, context, {}, async (store) => {
        const listing = await listNodes(store);
        for (const entry of listing.invalid) context.stderr(`warning: ${formatDiagnostic(entry)}`);
        if (flags.json === true) {
          printJson(context, {
            globalAsNumber: listing.globalAsNumber,
            nodes: listing.nodes.map((n) => ({
              name: n.name,
              ipv4: n.ipv4?.text ?? null,
              ipv6: n.ipv6?.text ?? null,
              asNumber: n.asNumber ?? null,
              effectiveAsNumber: n.effectiveAsNumber,
              networkV4: n.networkV4?.text ?? null,
            })),
          });
          return;
        }
        if (listing.nodes.length === 0) {
          context.stdout('No nodes.');
          return;
        }
        const rows = listing.nodes.map((n) => [
          n.name,
          n.ipv4?.text ?? '(none)',
          n.ipv6?.text ?? '',
          n.asNumber ?? '',
          n.asNumber === undefined ? `${n.effectiveAsNumber} (global)` : n.effectiveAsNumber,
        ]);
        for (const line of formatTable(['Node', 'IPv4 address', 'IPv6 address', 'AS', 'Effective AS'], rows))
          context.stdout(line);
      });
    });

  const nodeBgp = addExamples(node.command('bgp').description('node-specific BGP settings'), [
    'birdwatch node bgp peer show --node calico-01',
  ]);
  addPeerCommands(nodeBgp.command('peer').description('BGP peers of one node'), context, 'node');
}
