/**
 * What every etcd the tests, the lab and the benches start has in common: one member's command line, its
 * /health probe, and who leads. How the process is run (a child of the test, a detached lab process) is the
 * caller's: test/harness/etcd.ts, test/harness/etcdSecure.ts, test/lab/etcd.ts.
 */

export interface EtcdMemberArgs {
  readonly name: string;
  readonly dataDir: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** `name=peerUrl,…` of every member. */
  readonly initialCluster: string;
  readonly token?: string;
}

/** etcd's flags for one member of a new cluster, with fast failure detection and its log on stderr. */
export function etcdMemberArgs(member: EtcdMemberArgs): string[] {
  return [
    '--name',
    member.name,
    '--data-dir',
    member.dataDir,
    '--listen-client-urls',
    member.clientUrl,
    '--advertise-client-urls',
    member.clientUrl,
    '--listen-peer-urls',
    member.peerUrl,
    '--initial-advertise-peer-urls',
    member.peerUrl,
    '--initial-cluster',
    member.initialCluster,
    '--initial-cluster-state',
    'new',
    ...(member.token !== undefined ? ['--initial-cluster-token', member.token] : []),
    // Fast failure detection (defaults 100 ms / 1000 ms): a killed leader is replaced in about a second.
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
  ];
}

/** Whether `<clientUrl>/health` says healthy (any failure is "not yet"). */
export async function isEtcdHealthy(clientUrl: string, init: RequestInit = {}): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000), ...init });
    if (!res.ok) return false;
    const body: unknown = await res.json();
    return typeof body === 'object' && body !== null && 'health' in body && body.health === 'true';
  } catch {
    return false;
  }
}

export interface EtcdMemberStatus {
  readonly memberId: string;
  readonly leaderId: string;
}

/** `/v3/maintenance/status` through etcd's gRPC gateway (ids are uint64s as strings); undefined when unknown. */
export async function etcdMemberStatus(clientUrl: string): Promise<EtcdMemberStatus | undefined> {
  try {
    const res = await fetch(`${clientUrl}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(1_000),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { header?: { member_id?: unknown }; leader?: unknown };
    const memberId = body.header?.member_id;
    const leaderId = body.leader;
    if (typeof memberId !== 'string' || typeof leaderId !== 'string' || leaderId === '0') return undefined;
    return { memberId, leaderId };
  } catch {
    return undefined;
  }
}

/**
 * The index of the member that leads, from each running member's status (undefined: not running or no
 * answer). A deposed leader may still believe it leads for a moment: every other member that answered must
 * name the same leader.
 */
export function agreedLeader(statuses: readonly (EtcdMemberStatus | undefined)[]): number | undefined {
  const index = statuses.findIndex((st) => st !== undefined && st.memberId === st.leaderId);
  if (index < 0) return undefined;
  const leaderId = statuses[index]!.leaderId;
  return statuses.every((st) => st === undefined || st.leaderId === leaderId) ? index : undefined;
}
