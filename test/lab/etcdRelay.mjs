/**
 * Carries etcd's client port into the lab's host namespaces, so a host's `birdwatch run` (a runit service
 * inside the namespace, like calico-node's confd) sees etcd on its own loopback, as on a real node, while
 * etcd itself stays on the root namespace's loopback and no address is added outside the lab.
 *
 * Two halves, joined by unix sockets (file-system objects, so they cross network namespaces):
 *   root:  node etcdRelay.mjs root SOCKET=127.0.0.1:PORT …   (root namespace: unix socket → etcd member)
 *   host:  node etcdRelay.mjs host PORT=SOCKET …             (inside a host namespace: 127.0.0.1:PORT → socket)
 * The host half listens on the member's own port number, so an endpoint reads the same on both sides. When
 * either end of a connection closes, the other is closed too (a killed etcd member looks killed to birdwatch).
 * Prints `ready` once every listener is up; runs until SIGTERM.
 *
 * Plain JavaScript on purpose: it starts in tens of milliseconds without the TypeScript loader (the lab starts
 * one per host, on machines that may be busy); it uses nothing but node:net.
 */
// @ts-check
import { rmSync } from 'node:fs';
import net from 'node:net';

/** @param {net.Socket} client @param {net.NetConnectOpts} target */
function relay(client, target) {
  const upstream = net.connect(target);
  const drop = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', drop).on('close', drop);
  upstream.on('error', drop).on('close', drop);
  client.pipe(upstream);
  upstream.pipe(client);
}

/** @param {net.Server} server @param {net.ListenOptions} options @returns {Promise<void>} */
function listen(server, options) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function main() {
  const [mode, ...pairs] = process.argv.slice(2);
  if ((mode !== 'root' && mode !== 'host') || pairs.length === 0) {
    throw new Error('usage: etcdRelay.mjs root SOCKET=HOST:PORT … | host PORT=SOCKET …');
  }
  /** @type {net.Server[]} */
  const servers = [];
  for (const pair of pairs) {
    const [left = '', right = ''] = pair.split('=');
    if (mode === 'root') {
      const url = new URL(`http://${right}`);
      const target = { host: url.hostname, port: Number(url.port) };
      rmSync(left, { force: true });
      const server = net.createServer((c) => relay(c, target));
      await listen(server, { path: left });
      servers.push(server);
    } else {
      const server = net.createServer((c) => relay(c, { path: right }));
      await listen(server, { host: '127.0.0.1', port: Number(left) });
      servers.push(server);
    }
  }
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    for (const s of servers) s.close();
    process.exit(0);
  });
}

main().catch((e) => {
  process.stderr.write(`etcdRelay: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
