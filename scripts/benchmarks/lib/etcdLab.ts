/** A real etcd on loopback for one benchmark, with a plain etcd3 client; both stopped with the scope. */
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from './harness.js';
import type { Scope } from './scope.js';

export interface EtcdLab {
  readonly cluster: EtcdCluster;
  readonly client: Etcd3;
  readonly endpoint: string;
}

export async function startEtcdLab(scope: Scope): Promise<EtcdLab> {
  const cluster = await startEtcd();
  scope.teardown(() => cluster.stop());
  const client = new Etcd3({ hosts: [...cluster.endpoints] });
  scope.teardown(() => client.close());
  return { cluster, client, endpoint: cluster.endpoints[0]! };
}
