import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runBirdCommand } from '../bird/controlSocket.js';
import type { EtcdConnectionOptions } from '../datastore/etcdConnection.js';
import { BGP_PREFIX, IPAM_HOST_PREFIX, POOL_PREFIX } from '../model/keys.js';
import { BIRDWATCH_VERSION } from '../observe/buildInfo.js';
import { lineScrubber, REDACTED, redactFields } from '../observe/redact.js';
import { DAEMONS, type Daemon } from '../model/daemon.js';
import type { ListenOption } from './listenOption.js';
import { fetchOps, formatTarget, opsTarget } from './opsClient.js';
import { tarGz, type TarEntry } from './tarGz.js';
import { errorMessage } from '../errorMessage.js';

export interface DiagnosticsOptions {
  readonly node: string;
  readonly host: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly configDir: string;
  readonly sockets: Readonly<Record<Daemon, string>>;
  /** The daemons asked (BIRD 2/3: bird alone); default bird and bird6. */
  readonly daemons?: readonly Daemon[];
  /** Which BIRD answered on bird's socket (its greeting), for the summary. */
  readonly birdVersion?: string;
  readonly listen: ListenOption;
  readonly logs: readonly string[];
  readonly logBytes: number;
  /** Undefined: etcd is not read (--no-etcd). */
  readonly etcd: EtcdConnectionOptions | undefined;
  readonly timeoutMs: number;
  /** Archive path; default ./birdwatch-diags-NODE-TIME.tar.gz. */
  readonly out: string | undefined;
  /** The clock (tests). */
  readonly now?: () => Date;
}

export interface DiagnosticsResult {
  readonly path: string;
  readonly files: number;
  readonly bytes: number;
  /** One line per part that could not be collected. */
  readonly failures: readonly string[];
}

/** Config files larger than this are cut (a BIRD config of 10,000 peers is ~2 MB). */
const MAX_CONFIG_FILE = 8 * 1024 * 1024;
/** BGP passwords as BIRD writes them (`password "…";`), in configs and in any BIRD output. */
const BIRD_PASSWORD = /\b(password\s+)"(?:[^"\\\n]|\\.)*"/g;
/** Environment variables worth reporting; values of secret-named ones are redacted. */
const ENV_NAMES =
  /^(NODENAME|HOSTNAME|IP|IP6|AS|IP_AUTODETECTION_METHOD|IP6_AUTODETECTION_METHOD|CALICO_.*|ETCD_.*|BIRDWATCH_.*)$/;
const SECRET_ENV = /PASSWORD|SECRET|TOKEN|KEY$/;

async function withTimeout<T>(what: string, timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Files of the config directory (and one level of subdirectories), relative names. */
async function configFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) names.push(entry.name);
    else if (entry.isDirectory()) {
      for (const inner of await readdir(join(dir, entry.name), { withFileTypes: true }))
        if (inner.isFile()) names.push(join(entry.name, inner.name));
    }
  }
  return names.sort();
}

/** The last `bytes` of a file, from its first full line. */
async function tail(path: string, bytes: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8');
    return start === 0 ? text : text.slice(text.indexOf('\n') + 1);
  } finally {
    await handle.close();
  }
}

/** An etcd value with secret-named JSON fields (a BGP peer's `password`) redacted; non-JSON values as stored. */
function redactValue(value: string): string {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed === null || typeof parsed !== 'object') return value;
    const redacted = redactFields(parsed);
    return redacted === parsed ? value : JSON.stringify(redacted);
  } catch {
    return value;
  }
}

const timestamp = (date: Date): string =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** Collects every part (each on its own: a failure is recorded, the rest goes on) and writes the archive. */
export async function collectDiagnostics(options: DiagnosticsOptions): Promise<DiagnosticsResult> {
  const now = (options.now ?? (() => new Date()))();
  const top = `birdwatch-diags-${options.node}-${timestamp(now)}`;
  const path = options.out ?? `${top}.tar.gz`;
  const scrubLine = lineScrubber([options.etcd?.password, options.env['ETCD_PASSWORD']]);
  const scrub = (text: string): string => scrubLine(text.replace(BIRD_PASSWORD, `$1"${REDACTED}"`));
  const entries: TarEntry[] = [];
  const failures: string[] = [];
  const report: string[] = [];
  const mtime = Math.floor(now.getTime() / 1000);
  const add = (name: string, content: string): void => {
    entries.push({ name: `${top}/${name}`, content: scrub(content), mtime });
  };
  const part = async (name: string, work: () => Promise<string>): Promise<void> => {
    try {
      report.push(`ok      ${name}: ${await work()}`);
    } catch (error) {
      const line = `${name}: ${errorMessage(error)}`;
      failures.push(line);
      report.push(`FAILED  ${line}`);
    }
  };

  await part(`config directory ${options.configDir}`, async () => {
    const names = await configFiles(options.configDir);
    for (const name of names) {
      const content = await readFile(join(options.configDir, name));
      add(
        `config/${name}`,
        content.subarray(0, MAX_CONFIG_FILE).toString('utf8') +
          (content.length > MAX_CONFIG_FILE ? `\n# [cut at ${MAX_CONFIG_FILE} bytes of ${content.length}]\n` : ''),
      );
    }
    return `${names.length} files`;
  });

  await Promise.all(
    (options.daemons ?? DAEMONS).flatMap((daemon) =>
      (['show status', 'show protocols all', 'show route'] as const).map((command) =>
        part(`${daemon} \`${command}\` (${options.sockets[daemon]})`, async () => {
          const reply = await runBirdCommand(options.sockets[daemon], command, { timeoutMs: options.timeoutMs });
          add(`${daemon}/${command.replace(/ /g, '-')}.txt`, `${reply.lines.map((l) => l.text).join('\n')}\n`);
          return `${reply.lines.length} lines`;
        }),
      ),
    ),
  );

  if (options.listen.kind === 'off') report.push('skipped run status: --listen off');
  else {
    const target = opsTarget(options.listen.host, options.listen.port);
    await Promise.all(
      (['/readyz', '/healthz', '/metrics'] as const).map((endpoint) =>
        part(`run status ${endpoint} (${formatTarget(target)})`, async () => {
          const answer = await fetchOps(target, endpoint, options.timeoutMs);
          if (!answer.ok) throw new Error(answer.error);
          add(`run${endpoint}.${endpoint === '/metrics' ? 'txt' : 'json'}`, answer.value.body);
          return `HTTP ${answer.value.statusCode}`;
        }),
      ),
    );
  }

  for (const [i, log] of options.logs.entries()) {
    await part(`log ${log}`, async () => {
      const text = await tail(log, options.logBytes);
      add(`logs/${i + 1}-${basename(log)}`, text);
      return `last ${Buffer.byteLength(text)} bytes`;
    });
  }

  const etcd = options.etcd;
  if (etcd === undefined) report.push('skipped etcd: --no-etcd');
  else {
    await part(`etcd keys (${etcd.endpoints.join(',')})`, async () => {
      const [{ createEtcdClient }, { readEtcdSnapshot }] = await Promise.all([
        import('../datastore/etcdConnection.js'),
        import('../datastore/etcdSource.js'),
      ]);
      const client = createEtcdClient({ ...etcd, callTimeoutMs: options.timeoutMs });
      try {
        // The BGP keyspace and pools, and this node's IPAM blocks only (other nodes' are not its concern).
        const prefixes = [BGP_PREFIX, POOL_PREFIX, `${IPAM_HOST_PREFIX}${options.node}/`];
        const snapshot = await withTimeout('etcd', options.timeoutMs, () => readEtcdSnapshot(client, prefixes));
        const keys = Object.fromEntries(
          [...snapshot.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, redactValue(v)]),
        );
        add(
          'etcd/keys.json',
          `${JSON.stringify({ revision: snapshot.revision.toString(), prefixes, keys }, null, 2)}\n`,
        );
        return `${snapshot.entries.size} keys at revision ${snapshot.revision}`;
      } finally {
        client.close();
      }
    });
  }

  const env = Object.entries(options.env)
    .filter(([name, value]) => ENV_NAMES.test(name) && value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${SECRET_ENV.test(name) && !name.endsWith('_FILE') ? REDACTED : value}`);
  add('environment.txt', `${env.join('\n')}\n`);
  add(
    'summary.txt',
    [
      `birdwatch diags, ${now.toISOString()}`,
      `birdwatch ${BIRDWATCH_VERSION}, Node ${process.version}, host ${options.host}, node ${options.node}`,
      `BIRD ${options.birdVersion ?? 'unknown (bird did not answer)'}: ${(options.daemons ?? DAEMONS).join(', ')}`,
      `secrets redacted: BIRD \`password "…"\`, secret-named JSON fields of etcd values, the etcd password, private keys`,
      '',
      ...report,
      '',
    ].join('\n'),
  );

  const archive = await tarGz(entries);
  await writeFile(path, archive, { mode: 0o600 });
  return { path, files: entries.length, bytes: archive.length, failures };
}
