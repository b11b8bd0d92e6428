import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  checkEtcd3Internals,
  ETCD3_VERSION,
  Etcd3InternalsError,
  installedEtcd3Version,
  missingEtcd3Internals,
} from '../../src/datastore/etcd3Internals.js';
import { DatastoreError } from '../../src/datastore/errors.js';

// Shaped as etcd3 1.1.2's client: `pool` a ConnectionPool, its `hosts` Host instances whose methods live on the
// prototype. (The real client is checked against a real etcd in test/etcd3-internals.test.ts.)
class Host {
  readonly host: string;
  constructor(host: string) {
    this.host = host;
  }
  resetAllServices(): void {}
}
class ConnectionPool {
  readonly hosts = [new Host('127.0.0.1:2379'), new Host('127.0.0.2:2379')];
  withConnection(): Promise<void> {
    return Promise.resolve();
  }
}
const client = (): { pool: unknown } => ({ pool: new ConnectionPool() });

/** The error checkEtcd3Internals throws for `value`, with version 9.9.9 reported as installed. */
function refusal(value: unknown): Etcd3InternalsError {
  try {
    checkEtcd3Internals(value, () => '9.9.9');
  } catch (error) {
    if (error instanceof Etcd3InternalsError) return error;
    throw error;
  }
  throw new Error('checkEtcd3Internals accepted the client');
}

t.test('a client shaped as etcd3 1.1.2 passes', (t) => {
  t.same(missingEtcd3Internals(client()), []);
  t.doesNotThrow(() => checkEtcd3Internals(client(), () => '1.1.2'));
  t.end();
});

t.test('each member the watch stream uses is required, and named when missing', (t) => {
  const cases: [string, unknown, string[]][] = [
    ['no client', undefined, ['pool (object)']],
    ['no pool (a public API object only)', { get: () => undefined }, ['pool (object)']],
    ['pool renamed', { connectionPool: new ConnectionPool() }, ['pool (object)']],
    [
      'withConnection gone',
      { pool: Object.assign(new ConnectionPool(), { withConnection: undefined }) },
      ['pool.withConnection (function)'],
    ],
    [
      'hosts a Map',
      { pool: Object.assign(new ConnectionPool(), { hosts: new Map() }) },
      ['pool.hosts (array of hosts)'],
    ],
    ['hosts empty', { pool: Object.assign(new ConnectionPool(), { hosts: [] }) }, ['pool.hosts (array of hosts)']],
    [
      'a host keeps its address under another name',
      {
        pool: Object.assign(new ConnectionPool(), {
          hosts: [new Host('a:1'), { address: 'b:1', resetAllServices() {} }],
        }),
      },
      ['pool.hosts[].host (string)'],
    ],
    [
      'hosts without resetAllServices',
      { pool: Object.assign(new ConnectionPool(), { hosts: [{ host: 'a:1' }] }) },
      ['pool.hosts[].resetAllServices (function)'],
    ],
    [
      'everything in the pool changed',
      { pool: { endpoints: [] } },
      ['pool.withConnection (function)', 'pool.hosts (array of hosts)'],
    ],
  ];
  for (const [what, value, missing] of cases) {
    t.same(missingEtcd3Internals(value), missing, what);
    const error = refusal(value);
    t.ok(error instanceof DatastoreError, `${what}: a DatastoreError (the CLI prints its message alone, exit 1)`);
    t.equal(error.kind, 'client', `${what}: kind client`);
    t.equal(error.foundVersion, '9.9.9', `${what}: names the version found`);
    t.same(error.missing, missing, `${what}: names what is missing`);
    // One message holds the version found, what is missing and the fix (the version to install).
    for (const part of ['etcd3 9.9.9', ...missing, `etcd3@${ETCD3_VERSION}`]) t.ok(error.message.includes(part));
  }
  t.end();
});

t.test('the version read only for the message: the installed one, not called when the check passes', (t) => {
  let reads = 0;
  checkEtcd3Internals(client(), () => {
    reads++;
    return '1.1.2';
  });
  t.equal(reads, 0);
  t.equal(installedEtcd3Version(), ETCD3_VERSION, 'node_modules holds the version the check is written for');
  t.end();
});

t.test('package.json pins etcd3 to exactly the version the check is written for, and the lock file agrees', (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  t.equal(pkg.dependencies['etcd3'], ETCD3_VERSION, 'an exact version, no range');
  t.equal(lock.packages['node_modules/etcd3']?.version, ETCD3_VERSION);
  t.end();
});
