import net from 'node:net';

/**
 * A loopback TCP proxy in front of etcd, so a test can cut birdwatch's connection in the middle of a watch
 * (`cut()` drops every open connection and refuses new ones until `restore()`), and a bench can time when a
 * client first sends (`nextFirstByte()`).
 */
export interface TcpProxy {
  readonly url: string;
  /** Resolves with performance.now() when the first byte of the next client connection arrives. */
  nextFirstByte(): Promise<number>;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let cut = false;
  let firstByteWaiter: ((at: number) => void) | undefined;
  const server = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    client.once('data', () => {
      const waiter = firstByteWaiter;
      firstByteWaiter = undefined;
      waiter?.(performance.now());
    });
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    nextFirstByte: () => new Promise<number>((resolve) => (firstByteWaiter = resolve)),
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
