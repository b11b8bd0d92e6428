import type { Command } from 'commander';
import { resolveIpipRendering } from '../../controller/ipip.js';
import { removeLeftovers } from '../../apply/leftovers.js';
import { ConfigApplier } from '../../controller/configApplier.js';
import { RunController } from '../../controller/runController.js';
import { loadCompiledTemplates } from '../../controller/templateLoader.js';
import { createEtcdClient } from '../../datastore/etcdConnection.js';
import { readScopedSnapshot } from '../../datastore/etcdSource.js';
import { DEFAULT_STALE_AFTER_MS } from '../../datastore/keyspaceMirror.js';
import { startOpsServer } from '../../observe/httpServer.js';
import { createLogger, LOG_LEVELS, type LogLevelName } from '../../observe/logger.js';
import { BirdwatchMetrics } from '../../observe/metrics.js';
import { RunStatus } from '../../observe/runStatus.js';
import { addEtcdOptions, parseIpipOption, resolveEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import { addRoleOptions, resolveRole, type RoleFlags } from '../roleOptions.js';
import type { CommandContext } from '../context.js';
import { DEFAULT_LISTEN, parseListenOption } from '../listenOption.js';
import { listenOps } from '../opsListen.js';
import { UsageError } from '../usageError.js';

interface RunFlags extends EtcdFlags, RoleFlags {
  readonly configDir: string;
  readonly birdSocket: string;
  readonly bird6Socket: string;
  readonly templates?: string;
  readonly ipip: string;
  readonly once?: boolean;
  readonly minReloadInterval: string;
  readonly bird: string;
  readonly bird6: string;
  readonly logLevel: string;
  readonly logFormat: string;
  readonly listen?: string;
  readonly metricsPerPeer?: boolean;
  readonly etcdStaleAfter: string;
}

/**
 * 250 ms: a lone change is applied at once; in a storm BIRD reloads at most 4 times a second. A reload costs
 * 2-70 ms (10 to 10,000 peers), so this keeps BIRD mostly idle while bounding the delay a burst adds.
 */
export const DEFAULT_MIN_RELOAD_INTERVAL_MS = 250;

function parseMilliseconds(value: string): number {
  if (!/^(0|[1-9][0-9]{0,5})$/.test(value) || Number(value) > 60_000) {
    throw new UsageError('--min-reload-interval', value, 'expected whole milliseconds from 0 to 60000');
  }
  return Number(value);
}

function parseStaleAfter(value: string): number {
  if (!/^[1-9][0-9]{2,5}$/.test(value) || Number(value) < 500 || Number(value) > 600_000) {
    throw new UsageError('--etcd-stale-after', value, 'expected whole milliseconds from 500 to 600000');
  }
  return Number(value);
}

function parseLogLevelName(value: string): LogLevelName {
  const level = LOG_LEVELS.find((l) => l === value);
  if (!level) throw new UsageError('--log-level', value, `expected one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

export function registerRun(program: Command, context: CommandContext): void {
  addRoleOptions(addEtcdOptions(program.command('run')))
    .description('watch etcd and keep BIRD configured (the calico-node sidecar; replaces confd)')
    .option('--config-dir <dir>', 'where bird.cfg, bird6.cfg and their includes live', '/etc/calico/confd/config')
    .option('--bird-socket <path>', 'bird control socket', '/var/run/calico/bird.ctl')
    .option('--bird6-socket <path>', 'bird6 control socket', '/var/run/calico/bird6.ctl')
    .option('--templates <dir>', 'override templates file by file (watched: edits re-render)')
    .option('--ipip <mode>', 'auto | krt-tunnel | off', 'auto')
    .option('--once', 'sync, render, validate, apply (reload only if BIRD is up), then exit')
    .option('--min-reload-interval <ms>', 'minimum gap between two BIRD reloads', String(DEFAULT_MIN_RELOAD_INTERVAL_MS))
    .option('--bird <path>', 'bird binary used for validation', 'bird')
    .option('--bird6 <path>', 'bird6 binary used for validation', 'bird6')
    .option('--log-level <level>', LOG_LEVELS.join(' | '), 'info')
    .option('--log-format <format>', 'json | pretty | auto (pretty on a terminal)', 'auto')
    .option('--listen <host:port>', `address of /metrics, /healthz and /readyz, or off (default: ${DEFAULT_LISTEN})`)
    .option('--etcd-stale-after <ms>', 'a watch silent this long (no answer to a progress request) is moved to another etcd member and /readyz says stale; the member is left within 1.5 × this', String(DEFAULT_STALE_AFTER_MS))
    .option('--metrics-per-peer', 'also export one series per BGP session (a full mesh makes N² series across a cluster)')
    .action(async (flags: RunFlags) => {
      const ipipOption = parseIpipOption(flags.ipip);
      const minReloadIntervalMs = parseMilliseconds(flags.minReloadInterval);
      const staleAfterMs = parseStaleAfter(flags.etcdStaleAfter);
      const level = parseLogLevelName(flags.logLevel);
      if (!['json', 'pretty', 'auto'].includes(flags.logFormat)) throw new UsageError('--log-format', flags.logFormat, 'expected json, pretty or auto');
      const listen = parseListenOption(flags.listen ?? DEFAULT_LISTEN);
      const etcdOptions = resolveEtcdOptions(flags, context.env);
      const pretty = flags.logFormat === 'pretty' || (flags.logFormat === 'auto' && process.stdout.isTTY === true);
      const log = createLogger({ level, pretty, secrets: [etcdOptions.password] });
      const ipip = await resolveIpipRendering(ipipOption, flags.bird);
      const role = resolveRole(flags, context.env, ipip);
      if (ipipOption === 'auto' && ipip === 'off') {
        log.warn({ component: 'ipip' }, `${flags.bird} does not support krt_tunnel: IPIP pools are exported and routed natively`);
      }
      const sockets = { bird: flags.birdSocket, bird6: flags.bird6Socket };
      const binaries = { bird: flags.bird, bird6: flags.bird6 };
      const client = createEtcdClient(etcdOptions);
      const shutdown = context.shutdownSignal();
      try {
        if (flags.once) {
          await removeLeftovers(flags.configDir);
          const snapshot = await readScopedSnapshot(client, role.scope, { signal: shutdown });
          const status = new RunStatus();
          const applier = new ConfigApplier(
            { role, configDir: flags.configDir, keyspace: snapshot.entries, binaries, sockets, log, status },
            await loadCompiledTemplates(flags.templates, role.layout),
          );
          await applier.cycle(shutdown);
          if (status.failure) context.setExitCode(1);
          return;
        }
        log.info({ component: 'run', role: flags.role, node: flags.node ?? context.env['NODENAME'], endpoints: etcdOptions.endpoints, configDir: flags.configDir, minReloadIntervalMs, ipip }, 'birdwatch starting');
        const status = new RunStatus();
        const metrics = new BirdwatchMetrics({ status, sockets, ipip, perPeer: flags.metricsPerPeer === true });
        const controller = await RunController.create({
          role,
          configDir: flags.configDir,
          sockets,
          binaries,
          templatesDir: flags.templates,
          minReloadIntervalMs,
          client,
          staleAfterMs,
          log,
          status,
          observer: metrics,
        });
        const ops = await listenOps(listen, flags.listen, (host, port) => startOpsServer({ host, port, status, metrics, sockets, log }), log);
        const onHup = (): void => {
          log.info({ component: 'run' }, 'SIGHUP: re-reading etcd and templates');
          void controller.refresh();
        };
        process.on('SIGHUP', onHup);
        try {
          await controller.run(shutdown);
        } finally {
          process.off('SIGHUP', onHup);
          await ops?.close();
        }
        log.info({ component: 'run' }, 'stopped');
      } finally {
        client.close();
      }
    });
}
