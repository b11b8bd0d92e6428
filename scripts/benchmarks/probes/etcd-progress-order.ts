// Does a progress answer come after every event of the revisions it covers? One stream of four watches (ranges /a/
// … /d/), transactions writing all four ranges; after a watch response the client asks for progress, and events up
// to min(answer, highest revision seen when asking) count as released (what RevisionGate does). An event that
// arrives for a revision already released is a violation: the answer overtook it. etcd ≥ 3.4.25 / 3.5.8 queues the
// answer behind the events (0 expected); 3.4.23 sends it from another queue.
//
//   node --import tsx scripts/benchmarks/probes/etcd-progress-order.ts [rounds]
//   rounds: progress answers per release (default 1)
//   TXNS=500 CONC=1 BUSY=0 VALUE=10: transactions, writers at once, ms the client blocks per response, value bytes
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../lib/harness.js';

const ROUNDS = Number(process.argv[2] ?? 1);
const TXNS = Number(process.env['TXNS'] ?? 500);
const CONC = Number(process.env['CONC'] ?? 1);
const BUSY = Number(process.env['BUSY'] ?? 0);
const VALUE = 'x'.repeat(Number(process.env['VALUE'] ?? 10));
const RANGES = ['/a/', '/b/', '/c/', '/d/'];
const end = (p: string) => p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);

interface RawResponse {
  header: { revision: string };
  watch_id: string;
  created: boolean;
  events: { kv: { mod_revision: string } }[];
}
interface RawStream {
  write(request: unknown): boolean;
  on(event: 'data', listener: (response: RawResponse) => void): RawStream;
  on(event: 'error', listener: () => void): RawStream;
  cancel(): void;
}
interface Pool {
  hosts: unknown[];
  withConnection(
    service: string,
    fn: (c: { client: { watch(metadata: unknown, options: object): RawStream }; metadata: unknown }) => void,
    hosts: Generator<unknown>,
  ): Promise<void>;
}

const etcd = await startEtcd();
const reader = new Etcd3({ hosts: [...etcd.endpoints] });
const writer = new Etcd3({ hosts: [...etcd.endpoints] });
const pool = (reader as unknown as { pool: Pool }).pool;
let released = 0n;
let seen = 0n;
let target = 0n;
let roundsLeft = 0;
let violations = 0;
let answers = 0;
let requests = 0;
let stream: RawStream | undefined;
const ask = (rounds: number): void => {
  if (rounds === ROUNDS && roundsLeft === 0) target = seen;
  roundsLeft = rounds;
  requests++;
  stream!.write({ progress_request: {} });
};
await new Promise<void>((resolve, reject) => {
  pool
    .withConnection(
      'Watch',
      ({ client, metadata }) => {
        stream = client.watch(metadata, {});
        stream.on('error', () => undefined);
        stream.on('data', (r) => {
          if (r.created) {
            if (r.watch_id === String(RANGES.length)) resolve();
            return;
          }
          if (r.watch_id === '-1') {
            answers++;
            if (roundsLeft === 0) return;
            if (BigInt(r.header.revision) < target) return ask(roundsLeft); // answered before etcd counted it: again
            if (roundsLeft > 1) return ask(roundsLeft - 1);
            roundsLeft = 0;
            if (target > released) released = target;
            if (seen > released) ask(ROUNDS);
            return;
          }
          for (const e of r.events) {
            const revision = BigInt(e.kv.mod_revision);
            if (revision <= released) violations++;
            if (revision > seen) seen = revision;
          }
          const until = Date.now() + BUSY;
          while (Date.now() < until); // a client busy elsewhere (rendering): etcd's queue fills
          if (roundsLeft === 0) ask(ROUNDS);
        });
        RANGES.forEach((p, i) =>
          stream!.write({
            create_request: { key: Buffer.from(p), range_end: Buffer.from(end(p)), watch_id: String(i + 1) },
          }),
        );
      },
      (function* () {
        for (;;) yield* pool.hosts;
      })(),
    )
    .catch(reject);
});
let next = 0;
const started = Date.now();
await Promise.all(
  Array.from({ length: CONC }, async () => {
    while (next < TXNS) {
      const i = next++;
      await writer
        .if('/z', 'Create', '>', -1)
        .then(...RANGES.map((p) => writer.put(`${p}k${i % 7}`).value(VALUE)))
        .commit();
    }
  }),
);
await new Promise((r) => setTimeout(r, 1_000));
const version = (await reader.maintenance.status()).version;
console.log(
  `etcd ${version}, ${ROUNDS} round(s): ${TXNS} transactions over ${RANGES.length} ranges (${CONC} writers, client busy ${BUSY} ms per response, ${VALUE.length} B values) in ${Date.now() - started} ms: ${requests} progress requests, ${answers} answers, ${violations} events arrived after their revision was released`,
);
stream?.cancel();
reader.close();
writer.close();
await etcd.stop();
