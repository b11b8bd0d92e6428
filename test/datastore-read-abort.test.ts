import { createServer, type Socket } from 'node:net';
import type { Etcd3 } from 'etcd3';
import t, { type Test } from 'tap';
import { createEtcdClient } from '../src/datastore/etcdConnection.js';
import { readHeader, readScopedSnapshot } from '../src/datastore/etcdSource.js';
import { nodeKeyScope } from '../src/model/keyScope.js';

/**
 * A read from a member that accepts the connection and never answers (a SIGSTOPped etcd) ends at the abort, not at
 * the 5 s call deadline: bounded shutdown while waiting for the first sync (README "Reliability"; the real etcd
 * case is test/reliability-birdwatch-kill.test.ts).
 */
async function silentMember(t: Test): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

type Read = (client: Etcd3, signal: AbortSignal) => Promise<unknown>;
const reads: readonly (readonly [string, Read])[] = [
  ['the scoped read', (client, signal) => readScopedSnapshot(client, nodeKeyScope('n1'), { signal })],
  ['the header read', (client, signal) => readHeader(client, signal)],
];

for (const [name, read] of reads) {
  t.test(`${name} from a member that does not answer ends at the abort`, async (t) => {
    const client = createEtcdClient({ endpoints: [await silentMember(t)] });
    t.teardown(() => client.close());
    const stop = new AbortController();
    const started = performance.now();
    const reading = read(client, stop.signal);
    setTimeout(() => stop.abort(), 200);
    await t.rejects(reading, { name: 'AbortError' });
    const ms = performance.now() - started;
    t.ok(
      ms < 1_000,
      `rejected ${Math.round(ms)} ms after the read started (aborted at 200 ms; the call deadline is 5 s)`,
    );
  });
}
