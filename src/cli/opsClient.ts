import { request } from 'node:http';

/** Where to ask a `birdwatch run` ops endpoint; a wildcard listen address is asked on loopback. */
export interface OpsTarget {
  readonly host: string;
  readonly port: number;
}

export function opsTarget(host: string, port: number): OpsTarget {
  if (host === '0.0.0.0') return { host: '127.0.0.1', port };
  if (host === '::') return { host: '::1', port };
  return { host, port };
}

export const formatTarget = (target: OpsTarget): string =>
  target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;

export interface OpsAnswer {
  readonly url: string;
  readonly statusCode: number;
  readonly body: string;
}

export type OpsResult =
  { readonly ok: true; readonly value: OpsAnswer } | { readonly ok: false; readonly error: string };

/** Answers larger than this are not an ops endpoint's (metrics of a 10,000-peer node stay far below). */
const MAX_BODY = 16 * 1024 * 1024;

/**
 * GET `path` from the ops endpoint; never throws. A refused connection or a timeout is one line naming the
 * address, so a probe's output says at once that nothing listens there.
 */
export function fetchOps(target: OpsTarget, path: string, timeoutMs: number): Promise<OpsResult> {
  const address = formatTarget(target);
  const url = `http://${address}${path}`;
  return new Promise((resolve) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path,
        method: 'GET',
        timeout: timeoutMs,
        headers: { accept: 'application/json, text/plain' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY) {
            req.destroy();
            resolve({ ok: false, error: `the answer from ${url} exceeds ${MAX_BODY} bytes` });
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            ok: true,
            value: { url, statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') },
          }),
        );
        res.on('error', (error) => resolve({ ok: false, error: `reading ${url} failed: ${error.message}` }));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, error: `birdwatch did not answer on ${address} within ${timeoutMs} ms` });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ECONNREFUSED'
          ? `birdwatch is not listening on ${address} (connection refused: is \`birdwatch run\` up, with this --listen?)`
          : `cannot reach birdwatch on ${address}: ${error.code ?? error.message}`;
      resolve({ ok: false, error: reason });
    });
    req.end();
  });
}
