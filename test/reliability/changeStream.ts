import type { Etcd3 } from 'etcd3';
import { sleep } from '../support/world.js';

/**
 * A background writer: `rate` changes per second (host addresses appearing and disappearing in the mesh, a
 * counter key), until stop(). Each change is a single put or delete, so every one of them must be seen.
 */
export function changeStream(
  client: Etcd3,
  options: { rate: number; prefix: string; hosts: number; firstOctet?: number },
): { stop(): Promise<number>; errors: string[] } {
  let running = true;
  let count = 0;
  const errors: string[] = [];
  const loop = (async () => {
    const interval = 1000 / options.rate;
    const started = performance.now();
    while (running) {
      const i = count % options.hosts;
      const host = `${options.prefix}${i}`;
      const key = `/calico/bgp/v1/host/${host}/ip_addr_v4`;
      const present = Math.floor(count / options.hosts) % 2 === 0;
      try {
        if (present)
          await client.put(key).value(`127.${options.firstOctet ?? 1}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
        else await client.delete().key(key);
      } catch (error) {
        if (errors.length < 5) errors.push((error as Error).message);
      }
      count++;
      const due = started + count * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    errors,
    async stop() {
      running = false;
      await loop;
      return count;
    },
  };
}
