import { hostname } from 'node:os';
import type { Command } from 'commander';
import { addEtcdOptions, resolveEtcdOptions, resolveNodeName, type EtcdFlags } from '../commonOptions.js';
import type { CommandContext } from '../context.js';
import { parseDuration } from '../duration.js';
import { addExamples } from '../helpText.js';
import { DEFAULT_LISTEN, parseListenOption } from '../listenOption.js';
import { UsageError } from '../usageError.js';

interface DiagsFlags extends EtcdFlags {
  readonly out?: string;
  readonly configDir: string;
  readonly birdSocket: string;
  readonly bird6Socket: string;
  readonly listen: string;
  readonly log?: readonly string[];
  readonly logBytes: string;
  readonly node?: string;
  readonly etcd: boolean;
  readonly timeout: string;
}

const collectLog = (value: string, previous: readonly string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `diags` (as `calicoctl diags`): one tar.gz with what a bug report needs — the config directory, `show
 * protocols all`, `show route` and `show status` of bird and bird6 (over the control sockets), the running
 * birdwatch's /readyz, /healthz and /metrics, the tail of each --log file, this node's etcd keys, the
 * environment — with secrets redacted. Each part is collected on its own: a part that fails is named in
 * summary.txt and on stderr, and the rest is still written.
 */
export function registerDiagsCommand(program: Command, context: CommandContext): void {
  addExamples(
    addEtcdOptions(program.command('diags'))
      .description(
        'collect diagnostics into one tar.gz (config, BIRD state, run status, logs, etcd keys; secrets redacted)',
      )
      .option('--out <file>', 'the archive to write (default: ./birdwatch-diags-NODE-TIME.tar.gz)')
      .option('--config-dir <dir>', 'the live configuration directory', '/etc/calico/confd/config')
      .option('--bird-socket <path>', "bird's control socket", '/var/run/calico/bird.ctl')
      .option('--bird6-socket <path>', "bird6's control socket (BIRD 1.6 only)", '/var/run/calico/bird6.ctl')
      .option(
        '--listen <host:port>',
        'the ops address of the running birdwatch (for /readyz, /healthz, /metrics)',
        DEFAULT_LISTEN,
      )
      .option(
        '--log <file>',
        'a log file to include the end of (repeatable; e.g. /var/log/calico/birdwatch/current)',
        collectLog,
      )
      .option('--log-bytes <n>', 'how much of the end of each log to include', String(1024 * 1024))
      .option('--node <name>', 'the node whose etcd keys to include (default: NODENAME, HOSTNAME, then the hostname)')
      .option('--no-etcd', 'do not read etcd')
      .option('--timeout <duration>', 'time allowed for each part (each daemon, the endpoint, etcd)', '5s'),
    [
      'birdwatch diags',
      'birdwatch diags --out /tmp/diags.tar.gz --log /var/log/calico/birdwatch/current --log /var/log/calico/bird/current',
      'birdwatch diags --no-etcd --listen 127.0.0.1:9098',
    ],
    {
      0: 'the archive was written (parts that could not be collected are listed in it and on stderr)',
      1: 'the archive could not be written',
      2: 'usage: a bad argument or option',
    },
  ).action(async (flags: DiagsFlags) => {
    const listen = parseListenOption(flags.listen);
    const timeoutMs = parseDuration('--timeout', flags.timeout, { minMs: 1, maxMs: 600_000 });
    const logBytes = Number(flags.logBytes);
    if (!/^[1-9][0-9]{0,9}$/.test(flags.logBytes))
      throw new UsageError('--log-bytes', flags.logBytes, 'expected a positive number of bytes');
    const node = resolveNodeName(flags.node, context.env);
    const etcd = flags.etcd ? resolveEtcdOptions(flags, context.env) : undefined;
    const [{ collectDiagnostics }, { answeringBird }] = await Promise.all([
      import('../diagnosticsArchive.js'),
      import('../../bird/answeringBird.js'),
    ]);
    // BIRD 2/3 serve both families from bird: bird6 is not asked (nor reported missing).
    const bird = await answeringBird(flags.birdSocket, { timeoutMs });
    const result = await collectDiagnostics({
      node,
      host: hostname(),
      env: context.env,
      configDir: flags.configDir,
      sockets: { bird: flags.birdSocket, bird6: flags.bird6Socket },
      daemons: bird.daemons,
      ...(bird.version && { birdVersion: bird.version.text }),
      listen,
      logs: flags.log ?? [],
      logBytes,
      etcd,
      timeoutMs,
      out: flags.out,
    });
    for (const failure of result.failures) context.stderr(`warning: ${failure}`);
    context.stdout(
      `wrote ${result.path} (${result.files} files, ${result.bytes} bytes${result.failures.length > 0 ? `; ${result.failures.length} part(s) could not be collected, see summary.txt` : ''})`,
    );
  });
}
