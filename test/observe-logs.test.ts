import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { createLogger, type LoggerOptions } from '../src/observe/logger.js';
import { REDACTED } from '../src/observe/redact.js';
import { freePort } from './harness/process.js';
import { exitWithin, spawnBirdwatch } from './support/birdwatchProcess.js';
import { linesOf } from './support/logLines.js';
import { waitFor } from './support/world.js';

// Logs are JSON lines with a component field, and no credential reaches a line: checked on captured output.

function capture(options: Partial<LoggerOptions> = {}): {
  log: ReturnType<typeof createLogger>;
  text: () => string;
  lines: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const log = createLogger({ level: 'trace', pretty: false, destination: stream, ...options });
  const text = (): string => chunks.join('');
  return {
    log,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZmFrZS1rZXktbWF0ZXJpYWw=
-----END PRIVATE KEY-----
`;

t.test('secret fields are redacted at any depth; the caller’s object is not changed', async (t) => {
  const { log, text, lines } = capture();
  const fields = {
    component: 'etcd',
    password: 'pw-top-level',
    options: { endpoints: ['https://127.0.0.1:2379'], auth: { username: 'birdwatch', password: 'pw-in-auth' } },
    deep: {
      a: {
        b: {
          c: {
            etcdPassword: 'pw-deep',
            apiToken: 'tok-deep',
            private_key: 'pk-deep',
            key: '/calico/bgp/v1/host/n1/ip_addr_v4',
          },
        },
      },
    },
    list: [{ secret: 'secret-in-list' }],
  };
  log.info(fields, 'connecting');
  const [line] = lines();
  for (const secret of ['pw-top-level', 'pw-in-auth', 'pw-deep', 'tok-deep', 'pk-deep', 'secret-in-list'])
    t.notMatch(text(), secret, `${secret} not logged`);
  t.match(
    line,
    {
      component: 'etcd',
      password: REDACTED,
      options: { endpoints: ['https://127.0.0.1:2379'], auth: REDACTED },
      deep: {
        a: {
          b: {
            c: {
              etcdPassword: REDACTED,
              apiToken: REDACTED,
              private_key: REDACTED,
              key: '/calico/bgp/v1/host/n1/ip_addr_v4',
            },
          },
        },
      },
      list: [{ secret: REDACTED }],
    },
    'structure kept; an etcd key named `key` is not a secret',
  );
  t.equal(fields.password, 'pw-top-level', 'the logged object is untouched');
  t.equal(fields.options.auth.password, 'pw-in-auth');
});

t.test('known secret values and private keys are scrubbed from messages, errors and any field', async (t) => {
  const { log, text, lines } = capture({ secrets: ['Hunter2-etcd-pw', undefined] });
  log.error(
    { component: 'datastore', err: new Error('etcd said: bad password "Hunter2-etcd-pw"') },
    'login failed with Hunter2-etcd-pw',
  );
  log.warn({ component: 'tls', detail: `loaded ${PEM}`, quoted: 'pw="Hunter2-etcd-pw"' }, `key file content: ${PEM}`);
  t.notMatch(text(), 'Hunter2-etcd-pw');
  t.notMatch(text(), 'ZmFrZS1rZXktbWF0ZXJpYWw', 'no key material');
  t.notMatch(text(), 'BEGIN PRIVATE KEY');
  const [first, second] = lines();
  t.equal(first?.['msg'], `login failed with ${REDACTED}`);
  t.match(first?.['err'], { message: `etcd said: bad password "${REDACTED}"` });
  t.equal(second?.['msg'], `key file content: ${REDACTED}\n`);
  t.equal(second?.['component'], 'tls', 'lines stay valid JSON');
});

/**
 * Bounds the wait for a started process's first retry line: node's start plus, with --log-format pretty, pino's
 * transport worker (its own module loading) took over 20 s under load (2 cores, load 12).
 */
const STARTED_WITHIN_MS = 60_000;

t.test('run as a process: JSON lines with a component; pretty on request; ETCD_PASSWORD never printed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const password = 'Pw-Of-Run-4f2a';
  const port = await freePort();
  const args = [
    'run',
    '--node',
    'n1',
    '--config-dir',
    join(dir, 'c'),
    '--ipip',
    'off',
    '--listen',
    'off',
    '--log-level',
    'debug',
    '--etcd-endpoints',
    `http://127.0.0.1:${port}`,
    '--bird-socket',
    join(dir, 'b.ctl'),
    '--bird6-socket',
    join(dir, 'b6.ctl'),
  ];
  const env = { ETCD_USERNAME: 'birdwatch', ETCD_PASSWORD: password };

  const json = spawnBirdwatch(t, args, env);
  await waitFor(
    'the retry warning',
    () => linesOf(json.lines, 'datastore-retry').length > 0,
    (ok) => ok,
    STARTED_WITHIN_MS,
  );
  json.kill('SIGTERM');
  t.equal((await exitWithin(json, 20_000)).code, 0);
  t.ok(json.lines.length >= 2);
  t.ok(
    json.lines.every(
      (l) =>
        typeof l['level'] === 'number' &&
        typeof l['time'] === 'string' &&
        typeof l['component'] === 'string' &&
        typeof l['event'] === 'string' &&
        typeof l['msg'] === 'string',
    ),
    'every line: level, time, component, event, msg',
  );
  t.notMatch(json.output(), password);

  const pretty = spawnBirdwatch(t, [...args, '--log-format', 'pretty'], env);
  await waitFor(
    'pretty output',
    () => pretty.output(),
    (o) => /retrying/.test(o),
    STARTED_WITHIN_MS,
  );
  pretty.kill('SIGTERM');
  await exitWithin(pretty, 20_000);
  t.match(pretty.output(), /INFO.*birdwatch starting/, 'human-readable lines');
  t.notMatch(pretty.output(), /^\{"level"/m, 'not JSON');
  t.notMatch(pretty.output(), password);
});
