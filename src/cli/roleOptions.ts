import type { Command } from 'commander';
import type { BirdVersion } from '../bird/birdVersion.js';
import { nodeRole, reflectorRole, type RoleRenderer } from '../controller/roleRenderer.js';
import { parseBgpAddress, type IpAddress } from '../model/address.js';
import { parseAsNumber } from '../model/asNumber.js';
import type { IpipRendering } from '../render/ipipMode.js';
import { envValue, resolveNodeName } from './commonOptions.js';
import { UsageError } from './usageError.js';

export interface RoleFlags {
  readonly role: string;
  readonly node?: string;
  readonly ip?: string;
  readonly ip6?: string;
  readonly as?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** --role and the identity flags each role needs (a node by name; a reflector by address, like Calico's image). */
export function addRoleOptions(command: Command): Command {
  return command
    .option('--role <role>', 'node | route-reflector', 'node')
    .option('--node <name>', 'node name (role node; default: NODENAME, HOSTNAME, then the hostname)')
    .option(
      '--ip <address>',
      'IPv4 address: the reflector’s, or with --register the node’s (an address or autodetect; default: IP)',
    )
    .option(
      '--ip6 <address>',
      'IPv6 address: the reflector’s, or with --register the node’s (an address, autodetect or none; default: IP6)',
    )
    .option(
      '--as <number>',
      'AS: the reflectors’ (default: the global AS), or with --register the node’s (default: AS)',
    );
}

/** `bird`: the BIRD the files are for (its dialect picks the layout). */
export function resolveRole(flags: RoleFlags, env: Env, ipip: IpipRendering, bird: BirdVersion): RoleRenderer {
  if (flags.role === 'node') return nodeRole(resolveNodeName(flags.node, env), ipip, bird);
  if (flags.role !== 'route-reflector') throw new UsageError('--role', flags.role, 'expected node or route-reflector');
  const address = (argument: string, value: string | undefined, family: 4 | 6): IpAddress | undefined => {
    if (value === undefined || value === '') return undefined;
    const parsed = parseBgpAddress(value, family);
    if (!parsed.ok) throw new UsageError(argument, value, parsed.reason);
    return parsed.value;
  };
  const ipv4 = address(flags.ip !== undefined ? '--ip' : 'IP', flags.ip ?? envValue(env, 'IP'), 4);
  if (!ipv4) throw new UsageError('--ip', undefined, 'a route reflector needs its IPv4 address (--ip or IP)');
  const ipv6Value = flags.ip6 ?? envValue(env, 'IP6');
  // IP6=none, as calico-node took it: no IPv6.
  const ipv6 = address(flags.ip6 !== undefined ? '--ip6' : 'IP6', ipv6Value === 'none' ? undefined : ipv6Value, 6);
  let asNumber: number | undefined;
  if (flags.as !== undefined) {
    const parsed = parseAsNumber(flags.as);
    if (!parsed.ok) throw new UsageError('--as', flags.as, parsed.reason);
    asNumber = parsed.value;
  }
  return reflectorRole({ ipv4, ipv6, asNumber }, bird);
}
