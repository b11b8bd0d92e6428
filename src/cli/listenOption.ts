import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { UsageError } from './usageError.js';

/**
 * Loopback only: metrics and probes are for the node itself (or a sidecar), not the network. Port 9179 (BGP's
 * 179 behind a 9) is used by nothing in a calico-node: Felix has 9099 (health) and 9091 (metrics), Typha 5473,
 * 9093 and 9098, kube-controllers 9094, BIRD 179, etcd 2379/2380.
 */
export const DEFAULT_LISTEN = '127.0.0.1:9179';

export type ListenOption =
  { readonly kind: 'off' } | { readonly kind: 'listen'; readonly host: string; readonly port: number };

const EXPECTED = 'expected HOST:PORT (e.g. 127.0.0.1:9099, [::1]:9099, 0.0.0.0:9099), :PORT (every address), or off';
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * The host `:PORT` listens on: every address — `::` (on Linux a dual-stack socket: IPv4 too, unless
 * net.ipv6.bindv6only is set), or `0.0.0.0` on a host without IPv6 — as Go's and Prometheus's `:PORT` does.
 */
const anyAddress = (): string => (existsSync('/proc/net/if_inet6') ? '::' : '0.0.0.0');

/** `--listen HOST:PORT` (IPv6 in brackets; port 0 picks a free one), `:PORT` (every address), or `off`. */
export function parseListenOption(value: string): ListenOption {
  if (value === 'off') return { kind: 'off' };
  const any = /^:(\d{1,5})$/.exec(value);
  if (any !== null) {
    const port = Number(any[1]);
    if (port > 65535) throw new UsageError('--listen', value, `port ${port} is out of range (0-65535)`);
    return { kind: 'listen', host: anyAddress(), port };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (match === null) throw new UsageError('--listen', value, EXPECTED);
  const [, v6, other, portText] = match;
  const host = v6 ?? other ?? '';
  if (v6 !== undefined && isIP(v6) !== 6)
    throw new UsageError('--listen', value, `${v6} is not an IPv6 address; ${EXPECTED}`);
  if (v6 === undefined && isIP(host) === 0 && !HOSTNAME.test(host))
    throw new UsageError('--listen', value, `${host} is not an address or host name; ${EXPECTED}`);
  const port = Number(portText);
  if (port > 65535) throw new UsageError('--listen', value, `port ${port} is out of range (0-65535)`);
  return { kind: 'listen', host, port };
}
