import type { Command } from 'commander';
import { DEFAULT_VALIDATE_TIMEOUT_MS } from '../../bird/validateConfig.js';
import { applyOnce } from '../../controller/oneShot.js';
import { realBirdEdges, realPipelineEdges } from '../../controller/realEdges.js';
import { lockConfigDir } from '../../apply/configDirLock.js';
import { RunController } from '../../controller/runController.js';
import { abortAfter, SHUTDOWN_DEADLINE_MS, SHUTDOWN_GRACE_MS } from '../../controller/shutdownGrace.js';
import { DEFAULT_MAX_RELOAD_SHARE, DEFAULT_MIN_RELOAD_INTERVAL_MS } from '../../controller/reloadPacer.js';
import { loadCompiledTemplates } from '../../render/templateLoader.js';
import { createEtcdClient } from '../../datastore/etcdConnection.js';
import { readScopedSnapshot } from '../../datastore/etcdSource.js';
import { DEFAULT_STALE_AFTER_MS } from '../../datastore/mirrorOptions.js';
import { etcdKeyspaceSource } from '../../datastore/keyspaceSource.js';
import { startOpsServer } from '../../observe/httpServer.js';
import { createLogger } from '../../observe/logger.js';
import { LOGGER_LEVELS, loggerLevelOf, type LoggerLevel } from '../../observe/loggerLevel.js';
import { queryFamilyStatus } from '../../observe/bgpStatusQuery.js';
import { BirdwatchMetrics } from '../../observe/metrics.js';
import { RunStatus } from '../../observe/runStatus.js';
import type { Daemon } from '../../model/daemon.js';
import { AutodetectionError, systemHostAddresses } from '../addressAutodetection.js';
import { addEtcdOptions, resolveEtcdOptions, resolveNodeName, type EtcdFlags } from '../commonOptions.js';
import { addBirdOptions, resolveBird, type BirdFlags } from '../birdOptions.js';
import { etcdOperatorStore, planRegistration, registerAtStart } from '../registerAtStart.js';
import { addRoleOptions, resolveRole, type RoleFlags } from '../roleOptions.js';
import type { CommandContext } from '../context.js';
import { DEFAULT_LISTEN, parseListenOption } from '../listenOption.js';
import { listenOps } from '../opsListen.js';
import { parseDuration } from '../duration.js';
import { addExamples } from '../helpText.js';
import { parseReloadShare } from '../reloadShare.js';
import { UsageError } from '../usageError.js';
import { addGuardOptions, parseGuardOptions, type GuardFlags } from '../guardOptions.js';
import { errorMessage } from '../../errorMessage.js';
import type { LogEvent } from '../../observe/logEvents.js';

interface RunFlags extends EtcdFlags, RoleFlags, GuardFlags, BirdFlags {
  readonly configDir: string;
  readonly birdSocket: string;
  readonly bird6Socket: string;
  readonly templates?: string;
  readonly once?: boolean;
  readonly minReloadInterval: string;
  readonly maxReloadShare: string;
  readonly logLevel: string;
  readonly logFormat: string;
  readonly listen?: string;
  readonly metricsPerPeer?: boolean;
  readonly validateTimeout: string;
  readonly register?: boolean;
  readonly etcdStaleAfter: string;
  readonly sequentialReload?: boolean;
}

function parseMilliseconds(value: string): number {
  return parseDuration('--min-reload-interval', value, { minMs: 0, maxMs: 60_000 });
}

function parseValidateTimeout(value: string): number {
  return parseDuration('--validate-timeout', value, { minMs: 1, maxMs: 600_000 });
}

function parseStaleAfter(value: string): number {
  return parseDuration('--etcd-stale-after', value, { minMs: 500, maxMs: 600_000 });
}

/** `--log-level`, in any case. */
export function parseLoggerLevel(value: string): LoggerLevel {
  const level = loggerLevelOf(value);
  if (!level) throw new UsageError('--log-level', value, `expected one of ${LOGGER_LEVELS.join(', ')}`);
  return level;
}

export function registerRun(program: Command, context: CommandContext): void {
  addExamples(
    addBirdOptions(addGuardOptions(addRoleOptions(addEtcdOptions(program.command('run')))), 'for bird -p'),
    [
      'birdwatch run --node calico-01',
      'birdwatch run --once --node calico-01   # render, validate, apply once (before BIRD starts), then exit',
      'NODENAME=calico-01 ETCD_ENDPOINTS=https://10.0.0.1:2379 birdwatch run --listen :9098 --log-level WARN',
      'birdwatch run --max-reload-share 10% --min-reload-interval 1s --metrics-per-peer',
    ],
    {
      0: 'stopped on SIGTERM/SIGINT (--once: applied)',
      1: 'failure (--once: the cycle failed; the live configuration was kept)',
      2: 'usage: a bad argument, option or environment variable',
    },
  )
    .description(
      'watch etcd and keep BIRD configured (the calico-node sidecar; replaces confd); `bird --version` picks BIRD 1.6 (bird + bird6) or BIRD 2/3 (one bird)',
    )
    .option(
      '--config-dir <dir>',
      'where bird.cfg (BIRD 1.6: and bird6.cfg) and their includes live',
      '/etc/calico/confd/config',
    )
    .option('--bird-socket <path>', 'bird control socket', '/var/run/calico/bird.ctl')
    .option('--bird6-socket <path>', 'bird6 control socket (BIRD 1.6 only)', '/var/run/calico/bird6.ctl')
    .option('--templates <dir>', 'override templates file by file (watched: edits re-render)')
    .option('--once', 'sync, render, validate, apply (reload only if BIRD is up), then exit')
    .option(
      '--max-reload-share <share>',
      'pace reloads so BIRD spends at most this share of time reconfiguring (0.25 or 25%; 1 turns it off): after a reload of r ms the next waits r × (1/share − 1)',
      String(DEFAULT_MAX_RELOAD_SHARE),
    )
    .option(
      '--min-reload-interval <duration>',
      'an explicit minimum gap between two BIRD reloads on top of the share bound (250ms, 1s; a plain number is ms)',
      `${DEFAULT_MIN_RELOAD_INTERVAL_MS}ms`,
    )
    .option(
      '--sequential-reload',
      'validate and swap the files before telling BIRD (plain configure); by default BIRD parses the staged set (configure "<staged>/bird.cfg") while bird -p checks it — for a BIRD that sees the config dir at another path',
    )
    .option('--log-level <level>', `${LOGGER_LEVELS.join(' | ')} (any case)`, 'info')
    .option('--log-format <format>', 'json | pretty | auto (pretty on a terminal)', 'auto')
    .option(
      '--listen <host:port>',
      `address of /metrics, /healthz and /readyz: HOST:PORT, :PORT (every address), or off (default: ${DEFAULT_LISTEN})`,
    )
    .option(
      '--validate-timeout <duration>',
      'kill a bird -p / bird6 -p that runs longer than this (30s, 500ms; a plain number is ms); the cycle fails and is retried',
      String(DEFAULT_VALIDATE_TIMEOUT_MS),
    )
    .option(
      '--etcd-stale-after <duration>',
      'a watch silent this long (no answer to a progress request) is moved to another etcd member and /readyz says stale; the member is left within 1.25 × this',
      String(DEFAULT_STALE_AFTER_MS),
    )
    .option(
      '--metrics-per-peer',
      'also export one series per BGP session (a full mesh makes N² series across a cluster)',
    )
    .option(
      '--register',
      "first register the node's addresses and AS (--ip/--ip6/--as, else IP/IP6/AS, autodetect included), as calico-node's start-up did",
    )
    .action(async (flags: RunFlags) => {
      const minReloadIntervalMs = parseMilliseconds(flags.minReloadInterval);
      const maxReloadShare = parseReloadShare(flags.maxReloadShare);
      const validateTimeoutMs = parseValidateTimeout(flags.validateTimeout);
      const staleAfterMs = parseStaleAfter(flags.etcdStaleAfter);
      const guardSettings = parseGuardOptions(flags);
      const level = parseLoggerLevel(flags.logLevel);
      if (!['json', 'pretty', 'auto'].includes(flags.logFormat))
        throw new UsageError('--log-format', flags.logFormat, 'expected json, pretty or auto');
      const listen = parseListenOption(flags.listen ?? DEFAULT_LISTEN);
      const etcdOptions = resolveEtcdOptions(flags, context.env);
      const pretty = flags.logFormat === 'pretty' || (flags.logFormat === 'auto' && process.stdout.isTTY === true);
      const log = createLogger({ level, pretty, secrets: [etcdOptions.password] });
      const birdChoice = await resolveBird(flags, true);
      const { ipip } = birdChoice;
      const role = resolveRole(flags, context.env, ipip, birdChoice.version);
      if (flags.register === true && flags.role !== 'node')
        throw new UsageError(
          '--register',
          undefined,
          'registers a node (--role node); a route reflector is not registered as a node',
        );
      const registration =
        flags.register === true
          ? planRegistration(resolveNodeName(flags.node, context.env), flags, context.env)
          : undefined;
      log.info(
        {
          event: 'bird-version' satisfies LogEvent,
          component: 'bird',
          version: birdChoice.version.text,
          dialect: birdChoice.version.dialect,
          from: birdChoice.source === 'option' ? '--bird-version' : `${flags.bird} --version`,
          daemons: role.daemons,
        },
        `rendering for BIRD ${birdChoice.version.text}: ${role.daemons.join(' and ')}`,
      );
      if (birdChoice.ipipFellBack) {
        log.warn(
          { event: 'ipip-unsupported' satisfies LogEvent, component: 'ipip' },
          `${flags.bird} does not support krt_tunnel: IPIP pools are exported and routed natively`,
        );
      }
      // The role's daemons only: a layout without bird6 has no bird6 socket, state or readiness condition.
      const socketFlags: Record<Daemon, string> = { bird: flags.birdSocket, bird6: flags.bird6Socket };
      const sockets: Partial<Record<Daemon, string>> = Object.fromEntries(role.daemons.map((d) => [d, socketFlags[d]]));
      const edges = realPipelineEdges({ binaries: birdChoice.binaries, validateTimeoutMs, log });
      const shutdown = context.shutdownSignal();
      // Bounded shutdown (README "Reliability"): what still talks to BIRD at SIGTERM has a grace period, and the
      // process ends by the deadline whatever still runs.
      const bird = realBirdEdges(sockets, { signal: abortAfter(shutdown, SHUTDOWN_GRACE_MS) });
      const guard = { settings: guardSettings, edges: bird };
      const overlap = flags.sequentialReload !== true;
      const client = createEtcdClient(etcdOptions);
      const overdue = (): void => {
        log.error(
          { component: 'run', event: 'shutdown-deadline' satisfies LogEvent, deadlineMs: SHUTDOWN_DEADLINE_MS },
          `still stopping ${SHUTDOWN_DEADLINE_MS} ms after the stop signal: exiting now (files are swapped whole; a settle window is recovered at the next start)`,
        );
        process.exit(1);
      };
      let deadlineSignal: AbortSignal | undefined;
      const deadline = (): void => {
        deadlineSignal = AbortSignal.timeout(SHUTDOWN_DEADLINE_MS);
        deadlineSignal.addEventListener('abort', overdue, { once: true });
      };
      // Stopped during start-up (main.ts traps the signal first): the deadline runs from now.
      if (shutdown.aborted) deadline();
      else shutdown.addEventListener('abort', deadline, { once: true });
      try {
        if (registration !== undefined) {
          try {
            const host = context.hostAddresses ?? systemHostAddresses;
            await registerAtStart({
              plan: registration,
              store: etcdOperatorStore(client),
              host,
              log,
              env: context.env,
              retry: flags.once !== true,
              signal: shutdown,
            });
          } catch (error) {
            if (!(error instanceof AutodetectionError) || shutdown.aborted) throw error;
            log.error(
              { event: 'register-failed' satisfies LogEvent, component: 'register', node: registration.node },
              error.message,
            );
            context.stderr(`error: ${error.message}`);
            context.setExitCode(1);
            return;
          }
          if (shutdown.aborted) return;
        }
        if (flags.once) {
          const { applied } = await applyOnce({
            role,
            configDir: flags.configDir,
            readSnapshot: () => readScopedSnapshot(client, role.scope, { signal: shutdown }),
            templates: () => loadCompiledTemplates(flags.templates, role.layout),
            edges,
            apply: { bird, guard, overlap },
            log,
            signal: shutdown,
          });
          if (!applied) context.setExitCode(1);
          return;
        }
        log.info(
          {
            event: 'starting' satisfies LogEvent,
            component: 'run',
            role: flags.role,
            node: flags.node ?? context.env['NODENAME'],
            endpoints: etcdOptions.endpoints,
            configDir: flags.configDir,
            minReloadIntervalMs,
            maxReloadShare,
            ipip,
            bird: birdChoice.version.text,
            birdFrom: birdChoice.source,
            daemons: role.daemons,
          },
          'birdwatch starting',
        );
        const status = new RunStatus(role.daemons);
        const metrics = new BirdwatchMetrics({
          status,
          sockets,
          queryFamilyStatus,
          ipip,
          perPeer: flags.metricsPerPeer === true,
        });
        const controller = await RunController.create({
          role,
          configDir: flags.configDir,
          edges,
          bird,
          lockConfigDir,
          templatesDir: flags.templates,
          minReloadIntervalMs,
          maxReloadShare,
          keyspace: etcdKeyspaceSource({ client, staleAfterMs }),
          log,
          status,
          observer: metrics,
          guard,
          overlap,
          watch: { edges: bird },
        });
        const ops = await listenOps(
          listen,
          flags.listen,
          (host, port) => startOpsServer({ host, port, status, metrics, sockets, log }),
          log,
        );
        const onHup = (): void => {
          log.info(
            { event: 'sighup' satisfies LogEvent, component: 'run' },
            'SIGHUP: re-reading etcd, templates and the files on disk',
          );
          controller
            .refresh()
            .catch((error: unknown) =>
              log.error(
                { event: 'sighup-failed' satisfies LogEvent, component: 'run', err: error },
                'SIGHUP re-read failed',
              ),
            );
        };
        // The last line of defence (lint forbids floating promises): a rejection nobody handled is a bug to log,
        // not a reason to stop routing.
        const onUnhandled = (reason: unknown): void => {
          log.error(
            { event: 'unhandled-rejection' satisfies LogEvent, component: 'run', err: reason },
            `unhandled rejection (a bug; please report it): ${errorMessage(reason)}; carrying on`,
          );
        };
        process.on('SIGHUP', onHup);
        process.on('unhandledRejection', onUnhandled);
        try {
          await controller.run(shutdown);
        } finally {
          process.off('SIGHUP', onHup);
          process.off('unhandledRejection', onUnhandled);
          await ops?.close();
        }
        log.info({ event: 'stopped' satisfies LogEvent, component: 'run' }, 'stopped');
      } finally {
        shutdown.removeEventListener('abort', deadline);
        deadlineSignal?.removeEventListener('abort', overdue);
        client.close();
      }
    });
}
