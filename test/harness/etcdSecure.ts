/**
 * Test harness: a throwaway single-member etcd with TLS (optionally requiring client certificates) and/or
 * user/password auth, and the certificates for it, made with openssl in the test's temp dir.
 *
 * Like harness/etcd.ts: loopback only, the process is a child of the test stopped by PID (SIGTERM, then
 * SIGKILL), its data and log in a temp dir that stop() removes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  delay,
  envWithout,
  freePorts,
  hasExited,
  spawnLogged,
  stopChild,
  tailFile,
  type TeardownRegistrar,
} from './process.js';
import { etcdMemberArgs, isEtcdHealthy } from './etcdMember.js';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** Files of a small PKI: a CA, a server and a client certificate it signed, and strangers to it. */
export interface TestPki {
  readonly dir: string;
  readonly ca: KeyPair;
  /** For 127.0.0.1 and localhost. */
  readonly server: KeyPair;
  readonly client: KeyPair;
  /** A client certificate from another CA (etcd must refuse it). */
  readonly foreignClient: KeyPair;
  /** A self-signed server certificate for 127.0.0.1 that no trust store knows. */
  readonly selfSignedServer: KeyPair;
}

const EXTENSIONS = `[server]
subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
[client]
extendedKeyUsage=clientAuth
`;

const openssl = (dir: string, args: readonly string[]): Promise<unknown> =>
  execa('openssl', args, { cwd: dir, stdin: 'ignore' });
const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function selfSigned(dir: string, name: string, subject: string, extra: readonly string[] = []): Promise<KeyPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await openssl(dir, [
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-days',
    '2',
    '-subj',
    subject,
    ...extra,
  ]);
  return pair;
}

async function signed(
  dir: string,
  ca: KeyPair,
  name: string,
  subject: string,
  section: 'server' | 'client',
): Promise<KeyPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  await openssl(dir, ['req', ...newKey, '-keyout', pair.key, '-out', csr, '-subj', subject]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    pair.cert,
    '-days',
    '2',
    '-extfile',
    join(dir, 'ext.cnf'),
    '-extensions',
    section,
  ]);
  return pair;
}

/** Generates the PKI in a new temp dir (removed on teardown). */
export async function createTestPki(t: TeardownRegistrar): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-pki-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ext.cnf'), EXTENSIONS);
  const ca = await selfSigned(dir, 'ca', '/CN=birdwatch-test-ca');
  const otherCa = await selfSigned(dir, 'other-ca', '/CN=someone-elses-ca');
  const [server, client, foreignClient, selfSignedServer] = await Promise.all([
    signed(dir, ca, 'server', '/CN=etcd-server', 'server'),
    signed(dir, ca, 'client', '/CN=birdwatch', 'client'),
    signed(dir, otherCa, 'foreign-client', '/CN=birdwatch', 'client'),
    selfSigned(dir, 'self-signed-server', '/CN=etcd-self-signed', ['-addext', 'subjectAltName=IP:127.0.0.1']),
  ]);
  return { dir, ca, server, client, foreignClient, selfSignedServer };
}

export interface SecureEtcdOptions {
  /**
   * Serve https with `server`; `ca` verifies it (the harness's own health checks and etcdctl); `clientCa` given →
   * --client-cert-auth with that CA.
   */
  readonly tls?: { readonly server: KeyPair; readonly ca: string; readonly clientCa?: string };
}

export interface SecureEtcd {
  /** `https://127.0.0.1:PORT` (or http:// without TLS). */
  readonly endpoint: string;
  /** etcdctl flags that reach it as an administrator (TLS files; root user once auth is on). */
  readonly adminArgs: () => readonly string[];
  pid(): number | undefined;
  logTail(maxLines?: number): Promise<string>;
  /**
   * Turns on user/password auth: a `root` user (password `rootPassword`) with the root role, and each user with
   * read/write on its prefixes (none: a user without any permission).
   */
  enableAuth(
    rootPassword: string,
    users: readonly { name: string; password: string; prefixes: readonly string[] }[],
  ): Promise<void>;
  /** Runs etcdctl as the administrator (e.g. `['put', key, value]`). */
  etcdctl(args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts etcd and waits until /health answers (over TLS with `client`'s certificate when one is required);
 * `client` is also what etcdctl presents.
 */
export async function startSecureEtcd(
  t: TeardownRegistrar,
  options: SecureEtcdOptions,
  client?: KeyPair,
): Promise<SecureEtcd> {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-etcd-secure-'));
  const [clientPort, peerPort] = await freePorts(2);
  const scheme = options.tls ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const logFile = join(dir, 'etcd.log');
  const args = [
    ...etcdMemberArgs({
      name: 'secure',
      dataDir: join(dir, 'data'),
      clientUrl: endpoint,
      peerUrl,
      initialCluster: `secure=${peerUrl}`,
    }),
    ...(options.tls ? ['--cert-file', options.tls.server.cert, '--key-file', options.tls.server.key] : []),
    ...(options.tls?.clientCa ? ['--client-cert-auth', '--trusted-ca-file', options.tls.clientCa] : []),
  ];
  const child = await spawnLogged('etcd', args, { logFile, env: envWithout('ETCD_') });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await stopChild(child, 2_000);
      await rm(dir, { recursive: true, force: true });
    })());
  t.teardown(stop);

  const tlsFiles = options.tls
    ? {
        ca: readFileSync(options.tls.ca),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
      }
    : undefined;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (hasExited(child)) throw new Error(`etcd exited during start; log:\n${await tailFile(logFile)}`);
    if (await healthy(endpoint, tlsFiles)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd not healthy after 20 s; log:\n${await tailFile(logFile)}`);
    }
    await delay(50);
  }

  let rootPassword: string | undefined;
  const adminArgs = (): string[] => [
    '--endpoints',
    endpoint,
    ...(options.tls ? ['--cacert', options.tls.ca] : []),
    ...(options.tls && client ? ['--cert', client.cert, '--key', client.key] : []),
    ...(rootPassword !== undefined ? ['--user', `root:${rootPassword}`] : []),
  ];
  const etcdctl = async (command: readonly string[]): Promise<string> => {
    const result = await execa('etcdctl', [...adminArgs(), ...command], {
      env: { ...envWithout('ETCD'), ETCDCTL_API: '3' },
      extendEnv: false,
      stdin: 'ignore',
    });
    return result.stdout;
  };
  return {
    endpoint,
    adminArgs,
    pid: () => (hasExited(child) ? undefined : child.pid),
    logTail: (maxLines) => tailFile(logFile, maxLines),
    etcdctl,
    async enableAuth(password, users) {
      await etcdctl(['user', 'add', 'root', '--new-user-password', password]);
      await etcdctl(['user', 'grant-role', 'root', 'root']);
      for (const user of users) {
        await etcdctl(['user', 'add', user.name, '--new-user-password', user.password]);
        if (user.prefixes.length === 0) continue;
        await etcdctl(['role', 'add', `${user.name}-role`]);
        for (const prefix of user.prefixes)
          await etcdctl(['role', 'grant-permission', `${user.name}-role`, '--prefix=true', 'readwrite', prefix]);
        await etcdctl(['user', 'grant-role', user.name, `${user.name}-role`]);
      }
      await etcdctl(['auth', 'enable']);
      rootPassword = password;
    },
    stop,
  };
}

function healthy(endpoint: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined): Promise<boolean> {
  if (tls === undefined) return isEtcdHealthy(endpoint);
  return new Promise((resolve) => {
    const req = request(`${endpoint}/health`, { ...tls, timeout: 1_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
