import type { Command } from 'commander';
import { addPool, listPools, removePool } from '../../operator/pools.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import type { IpipMode } from '../../model/nodeModel.js';
import { addEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { printJson } from '../jsonOutput.js';
import { cidrArgument, familiesOf } from '../operatorArguments.js';
import { runOperatorCommand } from '../operatorSession.js';
import { addExamples } from '../helpText.js';
import { formatTable } from '../table.js';
import { UsageError } from '../usageError.js';
import { printWriteReport } from '../writeReport.js';

interface PoolAddFlags extends EtcdFlags {
  readonly ipip?: boolean;
  readonly natOutgoing?: boolean;
  readonly ipipMode?: string;
}

interface PoolShowFlags extends EtcdFlags {
  readonly ipv4?: boolean;
  readonly ipv6?: boolean;
  readonly json?: boolean;
}

function ipipModeOf(flags: PoolAddFlags): IpipMode | undefined {
  if (flags.ipipMode === undefined) return undefined;
  if (flags.ipipMode !== 'always' && flags.ipipMode !== 'cross-subnet') {
    throw new UsageError('--ipip-mode', flags.ipipMode, 'expected always or cross-subnet');
  }
  if (flags.ipip !== true) throw new UsageError('--ipip-mode', flags.ipipMode, 'needs --ipip');
  return flags.ipipMode;
}

/** `pool add|remove|show`: the IP pools routes are exported for (`/calico/v1/ipam/v4|v6/pool/`). */
export function registerPoolCommands(program: Command, context: CommandContext): void {
  const pool = program
    .command('pool')
    .description('IP pools: the address ranges whose routes BGP exports (calicoctl pool)');
  addExamples(pool, [
    'birdwatch pool show',
    'birdwatch pool add 192.168.0.0/16 --ipip --nat-outgoing',
    'birdwatch pool remove 192.168.0.0/16',
  ]);

  addExamples(addEtcdOptions(pool.command('add <CIDR>')), [
    'birdwatch pool add 192.168.0.0/16 --nat-outgoing',
    'birdwatch pool add 10.20.0.0/16 --ipip --ipip-mode cross-subnet',
    'birdwatch pool add fd00:1::/48',
  ])
    .description('add a pool (refused when it overlaps another pool); --ipip also sets IpInIpEnabled')
    .option('--ipip', 'route the pool through the IPIP tunnel (IPv4 only)')
    .option('--nat-outgoing', 'masquerade traffic from the pool leaving it')
    .option('--ipip-mode <mode>', 'always | cross-subnet (with --ipip)')
    .action(async (cidrText: string, flags: PoolAddFlags) => {
      const cidr = cidrArgument('CIDR', cidrText);
      const ipipMode = ipipModeOf(flags);
      if (flags.ipip === true && cidr.family === 6)
        throw new UsageError('--ipip', undefined, `IPIP is IPv4 only (${cidr.text} is an IPv6 pool)`);
      await runOperatorCommand(flags, context, { [cidr.text]: 'CIDR' }, async (store) => {
        printWriteReport(
          context,
          await addPool(store, { cidr, ipip: flags.ipip === true, ipipMode, natOutgoing: flags.natOutgoing === true }),
        );
      });
    });

  addExamples(addEtcdOptions(pool.command('remove <CIDR>')), ['birdwatch pool remove 192.168.0.0/16'])
    .description('remove a pool (its IPAM blocks stay)')
    .action(async (cidrText: string, flags: EtcdFlags) => {
      const cidr = cidrArgument('CIDR', cidrText);
      await runOperatorCommand(flags, context, {}, async (store) =>
        printWriteReport(context, await removePool(store, cidr)),
      );
    });

  addExamples(addEtcdOptions(pool.command('show')), [
    'birdwatch pool show',
    'birdwatch pool show --ipv4 --json',
    'ETCD_ENDPOINTS=https://10.0.0.1:2379 ETCD_CA_CERT_FILE=/etc/etcd/ca.pem birdwatch pool show',
  ])
    .description('list pools')
    .option('--ipv4', 'IPv4 pools only')
    .option('--ipv6', 'IPv6 pools only')
    .option('--json', 'JSON for scripts')
    .action(async (flags: PoolShowFlags) => {
      const families = familiesOf(flags);
      await runOperatorCommand(flags, context, {}, async (store) => {
        const listing = await listPools(store, families);
        for (const entry of listing.invalid) context.stderr(`warning: ${formatDiagnostic(entry)}`);
        if (flags.json === true) {
          printJson(context, {
            pools: listing.pools.map((p) => ({
              family: p.cidr.family,
              cidr: p.cidr.text,
              ipip: p.ipipInterface ?? null,
              ipipMode: p.ipipInterface === undefined ? null : p.ipipMode,
              natOutgoing: p.masquerade,
              disabled: p.disabled,
              ipam: p.ipam,
              key: p.key,
            })),
          });
          return;
        }
        for (const family of families) {
          const pools = listing.pools.filter((p) => p.cidr.family === family);
          if (pools.length === 0) {
            context.stdout(`No IPv${family} pools.`);
            continue;
          }
          const rows = pools.map((p) => [
            p.cidr.text,
            p.ipipInterface === undefined ? 'no' : `${p.ipipInterface} (${p.ipipMode})`,
            p.masquerade ? 'yes' : 'no',
            [p.disabled ? 'disabled' : '', p.ipam ? '' : 'no IPAM'].filter((s) => s !== '').join(', '),
          ]);
          for (const line of formatTable([`IPv${family} CIDR`, 'IPIP', 'NAT outgoing', 'Flags'], rows))
            context.stdout(line);
        }
      });
    });
}
