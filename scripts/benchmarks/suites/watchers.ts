/**
 * watchers: the simulation behind docs/scale.md: many birdwatch watch streams (one per simulated node, each with its
 * role's ranges from src/model/keyScope.ts, on EtcdWatchStream as the daemon uses it) in one process against
 * one real etcd on loopback. For each topology a series of single-key changes is written, one at a time, and
 * for each change: how many events etcd sent, how long until the last watcher had it, etcd's CPU (utime+stime
 * of its process, 10 ms ticks) and this process's CPU per change (all watchers plus the put itself).
 */
import { loadavg } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../../src/datastore/etcdConnection.js';
import { readHeader } from '../../../src/datastore/etcdSource.js';
import { EtcdWatchStream } from '../../../src/datastore/watchStream.js';
import { encodeNodeMesh, encodePeer } from '../../../src/model/encodings.js';
import { coveringRangeOf, nodeKeyScope, reflectorKeyScope, type KeyScope } from '../../../src/model/keyScope.js';
import { keys, WATCHED_PREFIXES } from '../../../src/model/keys.js';
import { parseFlags, wholeNumber } from '../lib/args.js';
import { startEtcd } from '../lib/harness.js';
import { clockTicksPerSecond, cpuTicksOf } from '../lib/procfs.js';
import { sleep, withScope } from '../lib/scope.js';
import { median } from '../lib/stats.js';

export const usage =
  'usage: scripts/bench watchers [--watchers 1000] [--changes 40] [--per-client 100]   (also: scripts/bench-scale watchers)';

interface WatchersOptions {
  readonly watchers: number;
  readonly changes: number;
  readonly perClient: number;
}

interface Watcher {
  events: number;
  payloadBytes: number;
  lastKey: string | undefined;
  stream: EtcdWatchStream;
}

interface Scenario {
  readonly name: string;
  /** Scope per simulated node (index) — node, reflector, or the old covering range. */
  readonly scopeOf: (index: number) => KeyScope;
  readonly mesh: boolean;
  /** The key written for change `j` and its value. */
  readonly change: (j: number) => [string, string];
}

const nodeName = (i: number): string => `sim-${String(i).padStart(5, '0')}`;

async function runScenario(
  options: WatchersOptions,
  clients: Etcd3[],
  writer: Etcd3,
  etcdPid: number,
  scenario: Scenario,
): Promise<string> {
  const { watchers: WATCHERS, changes: CHANGES } = options;
  await writer.put(keys.nodeMesh).value(encodeNodeMesh(scenario.mesh));
  const revision = (await readHeader(writer)).revision;
  const watchers: Watcher[] = [];
  let created = 0;
  let pendingKey = '';
  let waiting = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < WATCHERS; i++) {
    const plan = scenario.scopeOf(i).plan((key) => (key === keys.nodeMesh ? encodeNodeMesh(scenario.mesh) : undefined));
    const watcher: Watcher = {
      events: 0,
      payloadBytes: 0,
      lastKey: undefined,
      stream: undefined as unknown as EtcdWatchStream,
    };
    watcher.stream = new EtcdWatchStream(
      {
        client: clients[i % clients.length]!,
        ranges: plan.ranges.map((r) => ({ ...r, fromRevision: revision + 1n })),
        staleAfterMs: 600_000,
        avoid: new Set(),
      },
      {
        onCreated: () => {
          created++;
        },
        onHeader: () => undefined,
        onEvents: (_index, events) => {
          for (const e of events) {
            watcher.events++;
            watcher.payloadBytes += e.key.length + (e.value?.length ?? 0);
            if (e.key === pendingKey) {
              waiting--;
              if (waiting === 0) wake?.();
            }
          }
        },
        onEnd: (end) =>
          process.stderr.write(
            `watcher ${i} ended: ${JSON.stringify(end, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`,
          ),
      },
    );
    watcher.stream.open();
    watchers.push(watcher);
  }
  const started = performance.now();
  while (created < WATCHERS) {
    if (performance.now() - started > 120_000) throw new Error(`only ${created} of ${WATCHERS} watches created`);
    await sleep(20);
  }
  const fanout: number[] = [];
  const sent: number[] = [];
  const etcdBefore = await cpuTicksOf(etcdPid);
  const selfBefore = process.cpuUsage();
  const eventsBefore = watchers.reduce((n, w) => n + w.events, 0);
  for (let j = 0; j < CHANGES; j++) {
    const [key, value] = scenario.change(j);
    const receivedBefore = watchers.reduce((n, w) => n + w.events, 0);
    pendingKey = key;
    // Who will get it: every watcher whose ranges hold the key and whose plan keeps it (counted after the fact).
    const expected = watchers.filter((_w, i) =>
      scenario
        .scopeOf(i)
        .plan(() => encodeNodeMesh(scenario.mesh))
        .ranges.some((r) => key >= r.start && key < r.end),
    ).length;
    waiting = expected;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const t0 = performance.now();
    await writer.put(key).value(value);
    if (expected > 0) await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
    fanout.push(performance.now() - t0);
    sent.push(watchers.reduce((n, w) => n + w.events, 0) - receivedBefore);
  }
  const etcdTicks = (await cpuTicksOf(etcdPid)) - etcdBefore;
  const self = process.cpuUsage(selfBefore);
  const events = watchers.reduce((n, w) => n + w.events, 0) - eventsBefore;
  const payload = watchers.reduce((n, w) => n + w.payloadBytes, 0);
  for (const w of watchers) w.stream.close();
  const perChangeEtcdMs = (etcdTicks * 1000) / (await clockTicksPerSecond()) / CHANGES;
  const perChangeCpuMs = (self.user + self.system) / 1000 / CHANGES;
  const bytesPerEvent = events > 0 ? payload / watchers.reduce((n, w) => n + w.events, 0) : 0;
  return `| ${scenario.name} | ${WATCHERS} | ${median(sent)} | ${median(fanout).toFixed(1)} ms | ${perChangeEtcdMs.toFixed(2)} ms | ${perChangeCpuMs.toFixed(2)} ms | ${bytesPerEvent.toFixed(0)} B |`;
}

export async function main(argv: readonly string[]): Promise<void> {
  const values = parseFlags(argv, {
    watchers: { type: 'string' },
    changes: { type: 'string' },
    'per-client': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const options: WatchersOptions = {
    watchers: wholeNumber('--watchers', values.watchers, 1_000, 1),
    changes: wholeNumber('--changes', values.changes, 40, 1),
    perClient: wholeNumber('--per-client', values['per-client'], 100, 1),
  };
  const { watchers: WATCHERS, changes: CHANGES, perClient: PER_CLIENT } = options;
  await withScope(async (scope) => {
    const etcd = await startEtcd();
    scope.teardown(() => etcd.stop());
    const etcdPid = etcd.pid(0)!;
    const writer = createEtcdClient({ endpoints: etcd.endpoints });
    scope.teardown(() => writer.close());
    const clients: Etcd3[] = [];
    for (let i = 0; i < Math.ceil(WATCHERS / PER_CLIENT); i++) {
      const client = createEtcdClient({ endpoints: etcd.endpoints });
      scope.teardown(() => client.close());
      clients.push(client);
    }
    // Every simulated node is registered (its address), as in a real cluster.
    for (let i = 0; i < WATCHERS; i += 100) {
      await writer.kv.txn({
        compare: [],
        failure: [],
        success: Array.from({ length: Math.min(100, WATCHERS - i) }, (_, k) => ({
          request_put: {
            key: Buffer.from(keys.hostAddress(nodeName(i + k), 4)),
            value: Buffer.from(`10.1.${(i + k) >> 8}.${(i + k) & 255}`),
          },
        })),
      });
    }
    const reflectors = 2;
    const hostChange = (j: number): [string, string] => [keys.hostAddress(`new-${j}`, 4), `10.2.0.${j + 1}`];
    const scenarios: Scenario[] = [
      {
        name: 'full mesh: a host address changes',
        mesh: true,
        scopeOf: (i) => nodeKeyScope(nodeName(i)),
        change: hostChange,
      },
      {
        name: `reflectors (${reflectors} of the watchers), mesh off: a host address changes`,
        mesh: false,
        scopeOf: (i) => (i < reflectors ? reflectorKeyScope() : nodeKeyScope(nodeName(i))),
        change: hostChange,
      },
      {
        name: 'any topology: a global peer changes',
        mesh: false,
        scopeOf: (i) => nodeKeyScope(nodeName(i)),
        change: (j) => [keys.globalPeer(4, `10.3.0.${j + 1}`), encodePeer(`10.3.0.${j + 1}`, 65_000)],
      },
      {
        name: "new scopes: one node's IPAM block changes",
        mesh: true,
        scopeOf: (i) => nodeKeyScope(nodeName(i)),
        change: (j) => [keys.block(nodeName(j), 4, `172.20.${j}.0/26`), '{}'],
      },
      {
        name: "old covering range: one node's IPAM block changes",
        mesh: true,
        scopeOf: () => coveringRangeOf(WATCHED_PREFIXES),
        change: (j) => [keys.block(nodeName(j), 4, `172.21.${j}.0/26`), '{}'],
      },
    ];
    const rows: string[] = [];
    for (const scenario of scenarios) {
      process.stderr.write(`${scenario.name}…\n`);
      rows.push(await runScenario(options, clients, writer, etcdPid, scenario));
      process.stderr.write(`${rows.at(-1)}\n`);
    }
    process.stdout.write(
      [
        `${WATCHERS} watch streams in one process (${clients.length} connections), one etcd 3.4 member on loopback, ${CHANGES} changes per row, written one at a time.`,
        '',
        '| change | watchers | events etcd sent per change | put → last watcher has it (median) | etcd CPU per change | watcher process CPU per change (with the put) | payload per event |',
        '|---|---|---|---|---|---|---|',
        ...rows,
      ].join('\n') +
        `\n\nLoad average at the end (1/5/15 min): ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' / ')}.\n`,
    );
  });
}
