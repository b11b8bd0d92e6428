import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { EtcdConnectionOptions } from '../datastore/etcdConnection.js';
import { parseNodeName } from '../model/names.js';
import { IPIP_OPTIONS, type IpipOption } from '../render/ipipMode.js';
import { UsageError } from './usageError.js';

/** Flags shared by every command that talks to etcd; normalised here once. */
export interface EtcdFlags {
  readonly etcdEndpoints?: string;
  readonly etcdCa?: string;
  readonly etcdCert?: string;
  readonly etcdKey?: string;
}

/** Adds the etcd connection flags (the ETCD_* variables are read in resolveEtcdOptions). */
export function addEtcdOptions(command: Command): Command {
  return command
    .option(
      '--etcd-endpoints <urls>',
      'comma-separated etcd URLs (default: ETCD_ENDPOINTS, else ETCD_SCHEME://ETCD_AUTHORITY, else http://127.0.0.1:2379)',
    )
    .option(
      '--etcd-ca <file>',
      'CA certificate for https endpoints (default: ETCD_CA_CERT_FILE, else the system trust store)',
    )
    .option('--etcd-cert <file>', 'client certificate (default: ETCD_CERT_FILE)')
    .option('--etcd-key <file>', 'client key (default: ETCD_KEY_FILE)');
}

type Env = Readonly<Record<string, string | undefined>>;

/** An environment variable as calico-node read it: unset and empty (`ETCD_CERT_FILE=""` in calico.env) are the same. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * --etcd-endpoints, else ETCD_ENDPOINTS (comma list), else ETCD_SCHEME://ETCD_AUTHORITY (calico-node's older
 * pair; scheme http unless given), else http://127.0.0.1:2379. An empty variable counts as unset.
 */
export function resolveEtcdOptions(flags: EtcdFlags, env: Env): EtcdConnectionOptions {
  const authority = envValue(env, 'ETCD_AUTHORITY');
  const scheme = envValue(env, 'ETCD_SCHEME') ?? 'http';
  if (
    authority !== undefined &&
    flags.etcdEndpoints === undefined &&
    envValue(env, 'ETCD_ENDPOINTS') === undefined &&
    scheme !== 'http' &&
    scheme !== 'https'
  ) {
    throw new UsageError('ETCD_SCHEME', scheme, 'expected http or https');
  }
  const [argument, raw] =
    flags.etcdEndpoints !== undefined
      ? ['--etcd-endpoints', flags.etcdEndpoints]
      : envValue(env, 'ETCD_ENDPOINTS') !== undefined
        ? ['ETCD_ENDPOINTS', envValue(env, 'ETCD_ENDPOINTS') ?? '']
        : authority !== undefined
          ? ['ETCD_AUTHORITY', `${scheme}://${authority}`]
          : ['--etcd-endpoints', 'http://127.0.0.1:2379'];
  const endpoints = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (endpoints.length === 0)
    throw new UsageError(argument, raw, 'expected a comma-separated list of http(s)://host:port URLs');
  for (const endpoint of endpoints) {
    // An error message must not echo a password someone put in the URL.
    const shown = endpoint.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1***@');
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(argument, shown, 'expected http(s)://host:port');
    }
    if (url.username !== '' || url.password !== '') {
      throw new UsageError(
        argument,
        shown,
        'credentials in an endpoint URL are not accepted: use ETCD_USERNAME and ETCD_PASSWORD',
      );
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.pathname.length > 1) {
      throw new UsageError(argument, shown, 'expected http(s)://host:port');
    }
  }
  const certFile = flags.etcdCert ?? envValue(env, 'ETCD_CERT_FILE');
  const keyFile = flags.etcdKey ?? envValue(env, 'ETCD_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError(
      certFile === undefined ? '--etcd-cert' : '--etcd-key',
      undefined,
      'the client certificate and key must be given together',
    );
  }
  return {
    endpoints,
    caFile: flags.etcdCa ?? envValue(env, 'ETCD_CA_CERT_FILE'),
    certFile,
    keyFile,
    username: envValue(env, 'ETCD_USERNAME'),
    password: env['ETCD_PASSWORD'] === '' ? undefined : env['ETCD_PASSWORD'],
  };
}

/** --node, else NODENAME, else HOSTNAME, else the OS hostname — as calico-node chose it. */
export function resolveNodeName(flag: string | undefined, env: Env): string {
  const nodename = envValue(env, 'NODENAME');
  const hostnameVariable = envValue(env, 'HOSTNAME');
  const [argument, value] =
    flag !== undefined
      ? ['--node', flag]
      : nodename !== undefined
        ? ['NODENAME', nodename]
        : hostnameVariable !== undefined
          ? ['HOSTNAME', hostnameVariable]
          : ['hostname', hostname()];
  const valid = parseNodeName(value);
  if (!valid.ok) throw new UsageError(argument, value, valid.reason);
  return valid.value;
}

export function parseIpipOption(value: string): IpipOption {
  const option = IPIP_OPTIONS.find((o) => o === value);
  if (!option) throw new UsageError('--ipip', value, `expected one of ${IPIP_OPTIONS.join(', ')}`);
  return option;
}

export type DatastoreChoice = { readonly kind: 'etcd' } | { readonly kind: 'file'; readonly path: string };

export function parseDatastore(value: string): DatastoreChoice {
  if (value === 'etcd') return { kind: 'etcd' };
  if (value.startsWith('file:') && value.length > 5) return { kind: 'file', path: value.slice(5) };
  throw new UsageError('--datastore', value, 'expected etcd or file:PATH');
}
