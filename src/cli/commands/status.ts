import type { Command } from 'commander';
import { countEstablished, queryFamilyStatus, sessionInfo, summaryLine, type FamilyStatus } from '../../observe/bgpStatus.js';
import { PEER_TYPE_LABELS } from '../../observe/peerProtocolName.js';
import type { CommandContext } from '../context.js';
import { printJson } from '../jsonOutput.js';
import { formatTable } from '../table.js';
import { UsageError } from '../usageError.js';

interface StatusFlags {
  readonly birdSocket: string;
  readonly bird6Socket: string;
  readonly json?: boolean;
  readonly timeout: string;
}

const DAEMON = { 4: 'bird', 6: 'bird6' } as const;

/** calicoctl's per-family table: Peer address | Peer type | State | Since | Info, then `n of m sessions established`. */
export function formatFamilyStatus(status: FamilyStatus): string[] {
  const lines = [`IPv${status.family} BGP status`];
  if (!status.reachable) {
    lines.push(`${DAEMON[status.family]} is not reachable: ${status.error}`);
    return lines;
  }
  if (status.sessions.length === 0) lines.push('No BGP peers.');
  else {
    const rows = status.sessions.map((s) => [s.peerAddress ?? s.protocol, PEER_TYPE_LABELS[s.peerType], s.state, s.since, sessionInfo(s)]);
    lines.push(...formatTable(['Peer address', 'Peer type', 'State', 'Since', 'Info'], rows));
  }
  lines.push(summaryLine(status.sessions));
  return lines;
}

function statusJson(status: FamilyStatus): unknown {
  if (!status.reachable) return { daemon: DAEMON[status.family], socket: status.socketPath, reachable: false, error: status.error };
  return {
    daemon: DAEMON[status.family],
    socket: status.socketPath,
    reachable: true,
    established: countEstablished(status.sessions),
    total: status.sessions.length,
    sessions: status.sessions.map((s) => ({
      peerAddress: s.peerAddress ?? null,
      peerType: PEER_TYPE_LABELS[s.peerType],
      protocol: s.protocol,
      state: s.state,
      since: s.since,
      bgpState: s.bgpState ?? null,
      lastError: s.lastError ?? null,
      info: sessionInfo(s),
      established: s.established,
    })),
  };
}

/**
 * `status`: asks bird and bird6 over their control sockets (`show protocols`, no birdc) and prints each
 * family's BGP sessions. Exit 0 when bird (IPv4) answered, 1 when it could not be asked. An unreachable bird6
 * gets a warning naming its socket but does not fail the command: IPv4 BGP is the part every node has.
 */
export function registerStatusCommand(program: Command, context: CommandContext): void {
  program
    .command('status')
    .description("BGP sessions of this node's BIRD, per address family (like calicoctl status)")
    .option('--bird-socket <path>', "bird's control socket", '/var/run/calico/bird.ctl')
    .option('--bird6-socket <path>', "bird6's control socket", '/var/run/calico/bird6.ctl')
    .option('--json', 'JSON for scripts')
    .option('--timeout <ms>', 'time allowed for each daemon to answer', '5000')
    .action(async (flags: StatusFlags) => {
      const timeoutMs = Number(flags.timeout);
      if (!/^[1-9][0-9]*$/.test(flags.timeout)) throw new UsageError('--timeout', flags.timeout, 'expected a positive number of milliseconds');
      const options = { timeoutMs };
      const [v4, v6] = await Promise.all([queryFamilyStatus(4, flags.birdSocket, options), queryFamilyStatus(6, flags.bird6Socket, options)]);
      if (flags.json === true) printJson(context, { ipv4: statusJson(v4), ipv6: statusJson(v6) });
      else {
        for (const line of formatFamilyStatus(v4)) context.stdout(line);
        context.stdout('');
        for (const line of formatFamilyStatus(v6)) context.stdout(line);
      }
      if (!v4.reachable) {
        context.stderr(`error: bird (IPv4) is not reachable at ${v4.socketPath}: ${v4.error}`);
        context.setExitCode(1);
      }
      if (!v6.reachable) context.stderr(`warning: bird6 (IPv6) is not reachable at ${v6.socketPath}: no IPv6 status (${v6.error})`);
    });
}
