import type { Command } from 'commander';
import {
  countEstablished,
  PEER_TYPE_LABELS,
  sessionInfo,
  summaryLine,
  type FamilyStatus,
} from '../../observe/bgpStatus.js';
import { DAEMON_OF_FAMILY } from '../../model/daemon.js';
import type { CommandContext } from '../context.js';
import { printJson } from '../jsonOutput.js';
import { formatTable } from '../table.js';
import { parseDuration } from '../duration.js';
import { addExamples } from '../helpText.js';

interface StatusFlags {
  readonly birdSocket: string;
  readonly bird6Socket: string;
  readonly json?: boolean;
  readonly timeout: string;
  readonly failUnlessEstablished?: boolean;
}

/** `--fail-unless-established` and a session is not Established (0: all fine, 1: bird unreachable, 2: usage). */
export const EXIT_NOT_ESTABLISHED = 3;

/**
 * Why a daemon could not be asked, said once: Node's connect errors repeat the socket path the line already
 * names (`cannot connect to BIRD control socket P: connect ENOENT P`), so the path is dropped from the reason.
 */
export function unreachableReason(status: Extract<FamilyStatus, { reachable: false }>): string {
  const code = /\b(E[A-Z]+)\b/.exec(status.error)?.[1];
  const known: Readonly<Record<string, string>> = {
    ENOENT: 'no such socket (is it running?)',
    ECONNREFUSED: 'connection refused (is it running?)',
    EACCES: 'permission denied',
    ENOTSOCK: 'not a socket',
    ECONNRESET: 'connection reset',
  };
  if (code !== undefined && known[code] !== undefined) return `${known[code]} [${code}]`;
  // `BIRD control socket P: no complete reply …` → `no complete reply …`; any other mention of P dropped.
  const prefix = `BIRD control socket ${status.socketPath}: `;
  const text = status.error.includes(prefix)
    ? status.error.slice(status.error.indexOf(prefix) + prefix.length)
    : status.error;
  return text.split(` ${status.socketPath}`).join('');
}

/**
 * calicoctl's per-family table: Peer address | Peer type | State | Since | Info, then `n of m sessions established`.
 */
export function formatFamilyStatus(status: FamilyStatus): string[] {
  const lines = [`IPv${status.family} BGP status`];
  if (!status.reachable) {
    // The reason goes to stderr, once (see the action).
    lines.push(`${status.daemon ?? DAEMON_OF_FAMILY[status.family]} is not reachable`);
    return lines;
  }
  if (status.sessions.length === 0) lines.push('No BGP peers.');
  else {
    const rows = status.sessions.map((s) => [
      s.peerAddress ?? s.protocol,
      PEER_TYPE_LABELS[s.peerType],
      s.state,
      s.since,
      sessionInfo(s),
    ]);
    lines.push(...formatTable(['Peer address', 'Peer type', 'State', 'Since', 'Info'], rows));
  }
  lines.push(summaryLine(status.sessions));
  return lines;
}

function statusJson(status: FamilyStatus): unknown {
  if (!status.reachable)
    return {
      daemon: status.daemon ?? DAEMON_OF_FAMILY[status.family],
      socket: status.socketPath,
      reachable: false,
      error: status.error,
    };
  return {
    daemon: status.daemon ?? DAEMON_OF_FAMILY[status.family],
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
 * family's BGP sessions. BIRD 2/3 (bird's greeting says which) serve both families from bird: bird6 is then not
 * used. Exit 0 when bird (IPv4) answered, 1 when it could not be asked. An unreachable bird6 (BIRD 1.6)
 * gets a warning naming its socket but does not fail the command: IPv4 BGP is the part every node has.
 * With --fail-unless-established, exit 3 when a session of a daemon that answered is not Established (no
 * sessions at all is not a failure: a lone node has none).
 */
export function registerStatusCommand(program: Command, context: CommandContext): void {
  addExamples(
    program.command('status'),
    ['birdwatch status', 'birdwatch status --json', 'birdwatch status --fail-unless-established --timeout 2s'],
    {
      0: 'bird answered (with --fail-unless-established: and every session is Established)',
      1: 'bird (IPv4) could not be asked',
      2: 'usage: a bad option',
      [EXIT_NOT_ESTABLISHED]: '--fail-unless-established: a session is not Established',
    },
  )
    .description(
      "BGP sessions of this node's BIRD, per address family (like calicoctl status); BIRD 2/3 answer both on bird's socket",
    )
    .option('--bird-socket <path>', "bird's control socket", '/var/run/calico/bird.ctl')
    .option(
      '--bird6-socket <path>',
      "bird6's control socket (BIRD 1.6; BIRD 2/3 answer both families on bird's)",
      '/var/run/calico/bird6.ctl',
    )
    .option('--json', 'JSON for scripts')
    .option('--timeout <duration>', 'time allowed for each daemon to answer (5s, 500ms; a plain number is ms)', '5000')
    .option(
      '--fail-unless-established',
      `exit ${EXIT_NOT_ESTABLISHED} unless every BGP session is Established (for scripts and monitoring)`,
    )
    .action(async (flags: StatusFlags) => {
      const timeoutMs = parseDuration('--timeout', flags.timeout, { minMs: 1, maxMs: 600_000 });
      const options = { timeoutMs };
      const { queryNodeStatus } = await import('../../observe/bgpStatusQuery.js');
      const node = await queryNodeStatus({ bird: flags.birdSocket, bird6: flags.bird6Socket }, options);
      const { v4, v6 } = node;
      if (flags.json === true)
        printJson(context, {
          ipv4: statusJson(v4),
          ipv6: statusJson(v6),
          bird: { version: node.birdVersion ?? null, daemons: node.oneDaemon ? ['bird'] : ['bird', 'bird6'] },
        });
      else {
        for (const line of formatFamilyStatus(v4)) context.stdout(line);
        context.stdout('');
        for (const line of formatFamilyStatus(v6)) context.stdout(line);
      }
      if (!v6.reachable)
        context.stderr(
          `warning: bird6 (IPv6) is not reachable at ${v6.socketPath}: ${unreachableReason(v6)}; no IPv6 status`,
        );
      if (!v4.reachable) {
        context.stderr(`error: bird (IPv4) is not reachable at ${v4.socketPath}: ${unreachableReason(v4)}`);
        context.setExitCode(1);
        return;
      }
      if (flags.failUnlessEstablished === true) {
        const sessions = [v4, v6].flatMap((f) => (f.reachable ? f.sessions : []));
        const down = sessions.filter((s) => !s.established);
        if (down.length > 0) {
          context.stderr(
            `error: ${down.length} of ${sessions.length} BGP session${sessions.length === 1 ? '' : 's'} not Established: ${down.map((s) => s.peerAddress ?? s.protocol).join(', ')}`,
          );
          context.setExitCode(EXIT_NOT_ESTABLISHED);
        }
      }
    });
}
