// What 1,000 birdwatch hosts put on etcd, watching it directly vs through one etcd gRPC proxy (`etcd grpc-proxy
// start`, docs/scale.md "Behind etcd's gRPC proxy"). Each host is one keyspace mirror with its own client and its
// own connections (birdwatch's node scope, mesh on: 6 ranges on one Watch stream, the revision gate, stale
// detection at the default --etcd-stale-after), all in this process. Reported per mode: etcd's RSS and CPU (idle
// and per change), the watchers and Watch streams etcd counts, the requests that reach etcd, the proxy's RSS and
// CPU, and the time for one write to reach every mirror.
//
//   node --import tsx scripts/benchmarks/probes/grpc-proxy-fanout.ts   # HOSTS=1000 SEEDED=100 IDLE_S=15 CHANGES=10
//
// etcd and the proxy are Debian's etcd-server (3.4). Needs ~2 × HOSTS × 2 file descriptors (ulimit -n). All the
// mirrors share this process's one thread: the put → all-mirrors time includes their queueing here, and only
// SEEDED hosts' addresses are in etcd (each mirror's first read stays small; the watches are what is measured).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { etcdFeed } from '../../../src/datastore/etcdFeed.js';
import { KeyspaceMirror } from '../../../src/datastore/keyspaceMirror.js';
import { DEFAULT_STALE_AFTER_MS } from '../../../src/datastore/mirrorOptions.js';
import { nodeKeyScope } from '../../../src/model/keyScope.js';
import { keys } from '../../../src/model/keys.js';
import { startEtcdProxy } from '../../../test/harness/etcdProxy.js';
import { startEtcd, type EtcdCluster } from '../lib/harness.js';

const HOSTS = Number(process.env['HOSTS'] ?? 1000);
const IDLE_S = Number(process.env['IDLE_S'] ?? 15);
const CHANGES = Number(process.env['CHANGES'] ?? 10);
const SEEDED = Number(process.env['SEEDED'] ?? 100);
const TICK_MS = 1000 / 100; // USER_HZ

const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
};
const rssMb = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Prometheus samples of etcd's /metrics whose line starts with `name` (labels included), summed. */
async function metric(etcd: EtcdCluster, name: string): Promise<number> {
  const text = await (await fetch(`${etcd.endpoints[0]}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
const rangeCalls = (etcd: EtcdCluster) => metric(etcd, 'grpc_server_started_total{grpc_method="Range"');
const watchMessages = (etcd: EtcdCluster) => metric(etcd, 'grpc_server_msg_received_total{grpc_method="Watch"');

interface Host {
  readonly client: Etcd3;
  readonly mirror: KeyspaceMirror;
  stale: number;
}

async function measure(mode: 'direct' | 'proxy'): Promise<void> {
  const teardowns: (() => unknown)[] = [];
  const etcd = await startEtcd();
  teardowns.push(() => etcd.stop());
  try {
    const writer = new Etcd3({ hosts: [...etcd.endpoints] });
    teardowns.push(() => writer.close());
    await writer.put(keys.globalAsNumber).value('64512');
    for (let i = 0; i < SEEDED; i += 100)
      await Promise.all(
        Array.from({ length: Math.min(100, SEEDED - i) }, (_, j) =>
          writer.put(keys.hostAddress(`n${i + j}`, 4)).value(`10.0.${((i + j) >> 8) & 255}.${(i + j) & 255}`),
        ),
      );
    const proxy = mode === 'proxy' ? await startEtcdProxy({ teardown: (fn) => teardowns.push(fn) }, etcd) : undefined;
    const endpoint = proxy?.endpoint ?? etcd.endpoints[0]!;
    const etcdPid = etcd.pid(0)!;

    let target: string | undefined;
    let waiting = 0;
    let allSeen: (() => void) | undefined;
    const hosts: Host[] = [];
    const started = performance.now();
    for (let i = 0; i < HOSTS; i += 50) {
      const batch = Array.from({ length: Math.min(50, HOSTS - i) }, (_, j) => {
        // Its own connections, as on its own machine (grpc shares one connection per target otherwise).
        const client = new Etcd3({ hosts: [endpoint], grpcOptions: { 'grpc.use_local_subchannel_pool': 1 } });
        const host: Host = {
          client,
          stale: 0,
          mirror: new KeyspaceMirror({
            feed: etcdFeed({ client, staleAfterMs: DEFAULT_STALE_AFTER_MS }),
            scope: nodeKeyScope(`n${i + j}`),
            onChange: () => {
              if (target !== undefined && host.mirror.entries.get(keys.hostAddress('changed', 4)) === target) {
                if (--waiting === 0) allSeen?.();
              }
            },
            onStateChange: (state) => {
              if (state === 'stale') host.stale++;
            },
          }),
        };
        hosts.push(host);
        return host.mirror.start();
      });
      await Promise.all(batch);
    }
    teardowns.push(async () => {
      await Promise.all(hosts.map((h) => h.mirror.close()));
      for (const h of hosts) h.client.close();
    });
    const startS = (performance.now() - started) / 1000;
    // Settled: every mirror synced, detection done, first probes out; stale verdicts counted from here.
    while (hosts.some((h) => h.mirror.state !== 'synced')) await sleep(500);
    await sleep(3_000);
    const startStale = hosts.reduce((n, h) => n + h.stale, 0);
    for (const h of hosts) h.stale = 0;

    const watchers = await metric(etcd, 'etcd_debugging_mvcc_watcher_total');
    const streams = await metric(etcd, 'etcd_debugging_mvcc_watch_stream_total');
    const idle0 = { etcd: cpuMs(etcdPid), proxy: proxy ? cpuMs(proxy.pid()!) : 0 };
    const idleRanges0 = await rangeCalls(etcd);
    const idleWatch0 = await watchMessages(etcd);
    const idleLoad = loadavg();
    await sleep(IDLE_S * 1000);
    const idleEtcd = (cpuMs(etcdPid) - idle0.etcd) / IDLE_S;
    const idleProxy = proxy ? (cpuMs(proxy.pid()!) - idle0.proxy) / IDLE_S : 0;
    const idleRanges = ((await rangeCalls(etcd)) - idleRanges0) / IDLE_S;
    const idleWatch = ((await watchMessages(etcd)) - idleWatch0) / IDLE_S;

    const idleStale = hosts.reduce((n, h) => n + h.stale, 0);
    for (const h of hosts) h.stale = 0;
    const fanout: number[] = [];
    const change0 = { etcd: cpuMs(etcdPid), proxy: proxy ? cpuMs(proxy.pid()!) : 0 };
    const changeRanges0 = await rangeCalls(etcd);
    const changeWatch0 = await watchMessages(etcd);
    for (let c = 0; c < CHANGES; c++) {
      target = `10.9.0.${c + 1}`;
      waiting = hosts.length;
      const seen = new Promise<void>((resolve) => (allSeen = resolve));
      const at = performance.now();
      await writer.put(keys.hostAddress('changed', 4)).value(target);
      await seen;
      fanout.push(performance.now() - at);
      await sleep(500);
    }
    const perChange = (x: number) => (x / CHANGES).toFixed(1);
    const changeEtcd = perChange(cpuMs(etcdPid) - change0.etcd - CHANGES * 0.5 * idleEtcd);
    const changeProxy = proxy ? perChange(cpuMs(proxy.pid()!) - change0.proxy - CHANGES * 0.5 * idleProxy) : '-';
    const changeRanges = perChange((await rangeCalls(etcd)) - changeRanges0);
    const changeWatch = perChange((await watchMessages(etcd)) - changeWatch0);
    fanout.sort((a, b) => a - b);

    console.log(
      `${mode}: ${HOSTS} mirrors started in ${startS.toFixed(1)} s (stale verdicts while starting: ${startStale}); ` +
        `load average ${idleLoad} (1/5/15 min)`,
    );
    console.log(
      `  etcd counts ${watchers} watchers on ${streams} Watch streams; etcd RSS ${rssMb(etcdPid).toFixed(0)} MB`,
    );
    if (proxy) console.log(`  proxy RSS ${rssMb(proxy.pid()!).toFixed(0)} MB`);
    console.log(
      `  idle ${IDLE_S} s: etcd CPU ${idleEtcd.toFixed(0)} ms/s, proxy CPU ${idleProxy.toFixed(0)} ms/s; ` +
        `reaching etcd per second: ${idleRanges.toFixed(1)} reads, ${idleWatch.toFixed(1)} Watch messages; ` +
        `stale verdicts ${idleStale}`,
    );
    console.log(
      `  per change (one put, ${CHANGES}×): etcd CPU ${changeEtcd} ms, proxy CPU ${changeProxy} ms; ` +
        `reaching etcd: ${changeRanges} reads, ${changeWatch} Watch messages; ` +
        `put → all ${HOSTS} mirrors median ${fanout[Math.floor(CHANGES / 2)]!.toFixed(0)} ms, max ${fanout.at(-1)!.toFixed(0)} ms; ` +
        `stale verdicts ${hosts.reduce((n, h) => n + h.stale, 0)}`,
    );
  } finally {
    for (const teardown of teardowns.reverse()) await teardown();
  }
}

for (const mode of ['direct', 'proxy'] as const) await measure(mode);
