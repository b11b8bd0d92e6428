import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { classifyKey } from '../model/keys.js';
import type { IpipRendering } from '../render/ipipMode.js';
import type { FamilyStatus } from './bgpStatus.js';
import type { queryFamilyStatus } from './bgpStatusQuery.js';
import { BIRDWATCH_VERSION } from './buildInfo.js';
import type { CycleObserver, CycleReport } from './cycleReport.js';
import { GuardMetrics } from './guardMetrics.js';
import { FAMILY_OF_DAEMON, type Daemon } from '../model/daemon.js';
import { FAILURE_KINDS, isRenderFailureKind } from './failureKind.js';
import { DATASTORE_STATES } from '../datastore/datastoreState.js';
import { DRIFT_CAUSES, type RunStatusView } from './runStatus.js';

export interface MetricsOptions {
  /** Read at scrape time; its daemons (the role's) are the ones labelled. */
  readonly status: RunStatusView;
  readonly sockets: Readonly<Partial<Record<Daemon, string>>>;
  /** Asks BIRD on a socket (`show protocols`): queryFamilyStatus, or a unit test's answer without a socket. */
  readonly queryFamilyStatus: typeof queryFamilyStatus;
  readonly ipip: IpipRendering;
  /** One series per BGP session (`--metrics-per-peer`): a full mesh of N nodes makes N² across the cluster. */
  readonly perPeer: boolean;
  /** Node.js process metrics (process_*, nodejs_*). Default true. */
  readonly processMetrics?: boolean;
  /** Time each `show protocols` may take at scrape time. */
  readonly birdTimeoutMs?: number;
  /** The clock status.heartbeatAt is on (monotonic ms); performance.now by default. */
  readonly now?: () => number;
}

/** Seconds, from milliseconds. */
const s = (ms: number): number => ms / 1000;
/** From a millisecond to half a minute: a cycle is milliseconds; BIRD at 10,000 peers, tens of them. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const CYCLE_RESULTS: readonly CycleReport['result'][] = ['applied', 'unchanged', 'failed', 'reload-pending', 'aborted'];
const RELOAD_RESULTS = ['applied', 'rejected', 'unreachable', 'garbled'] as const;

/**
 * birdwatch's Prometheus metrics, in a registry of their own (not prom-client's global one, so nothing else in
 * the process can add to or collide with it). Cycle counters and histograms come from cycle reports; datastore,
 * heartbeat and apply gauges are read from RunStatusView at scrape time; BGP session counts and BIRD reachability
 * are asked from BIRD (`show protocols`) at scrape time, so they are never stale.
 */
export class BirdwatchMetrics implements CycleObserver {
  readonly registry = new Registry();
  readonly #options: MetricsOptions;
  readonly #now: () => number;
  #scraping: Promise<string> | undefined;
  readonly #skippedSeen = new Map<string, { kind: string; action: string; count: number }>();
  readonly #sessionsSeen = new Map<string, { daemon: Daemon; type: string; state: string; count: number }>();

  readonly #datastoreSynced: Gauge;
  readonly #datastoreState: Gauge<'state'>;
  readonly #revision: Gauge;
  readonly #cycles: Counter<'result'>;
  readonly #failures: Counter<'kind'>;
  readonly #validationFailures: Counter;
  readonly #reloads: Counter<'daemon' | 'result'>;
  readonly #skipped: Gauge<'kind' | 'action'>;
  readonly #lastApplied: Gauge;
  readonly #latency: Histogram;
  readonly #renderDuration: Histogram;
  readonly #validateDuration: Histogram;
  readonly #reloadDuration: Histogram<'daemon'>;
  readonly #sessions: Gauge<'daemon' | 'type' | 'state'>;
  readonly #peerEstablished: Gauge<'daemon' | 'protocol' | 'peer' | 'type'> | undefined;
  readonly #birdReachable: Gauge<'daemon'>;
  readonly #ipipMode: Gauge<'mode'>;
  readonly #heartbeatAge: Gauge;
  readonly #quarantined: Gauge;
  readonly #daemonInSync: Gauge<'daemon'>;
  readonly #drifts: Counter<'daemon' | 'cause'>;
  /** Each (daemon, cause)'s count already added to #drifts (RunStatus keeps the totals). */
  readonly #driftsCounted = new Map<string, number>();
  readonly #guard: GuardMetrics;

  constructor(options: MetricsOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    const registers = [this.registry];
    this.#datastoreSynced = new Gauge({
      name: 'birdwatch_datastore_synced',
      help: '1 while the etcd mirror is synced and watching, else 0',
      registers,
    });
    this.#datastoreState = new Gauge({
      name: 'birdwatch_datastore_state',
      help: 'etcd connection state: 1 for the current state (syncing, synced, disconnected, stale, resyncing)',
      labelNames: ['state'],
      registers,
    });
    this.#revision = new Gauge({
      name: 'birdwatch_datastore_revision',
      help: 'etcd revision of the keyspace birdwatch holds',
      registers,
    });
    this.#cycles = new Counter({
      name: 'birdwatch_cycles_total',
      help: 'render/apply cycles by result (applied, unchanged, failed, reload-pending)',
      labelNames: ['result'],
      registers,
    });
    this.#failures = new Counter({
      name: 'birdwatch_cycle_failures_total',
      help: 'cycle failures by kind (node, template, internal, validation, write, reload), one per failing daemon',
      labelNames: ['kind'],
      registers,
    });
    this.#validationFailures = new Counter({
      name: 'birdwatch_validation_failures_total',
      help: 'rendered configurations that bird -p or bird6 -p rejected',
      registers,
    });
    this.#reloads = new Counter({
      name: 'birdwatch_bird_reloads_total',
      help: 'configure commands sent to BIRD, by daemon and result (applied, rejected, unreachable, garbled)',
      labelNames: ['daemon', 'result'],
      registers,
    });
    this.#skipped = new Gauge({
      name: 'birdwatch_skipped_entries',
      help: 'datastore entries the last rendering did not use as written, by key kind and action (skipped, defaulted, overridden)',
      labelNames: ['kind', 'action'],
      registers,
    });
    this.#lastApplied = new Gauge({
      name: 'birdwatch_last_apply_success_timestamp_seconds',
      help: 'Unix time of the last cycle that left BIRD running the rendered configuration (0: none yet)',
      registers,
    });
    this.#latency = new Histogram({
      name: 'birdwatch_change_applied_latency_seconds',
      help: 'from an etcd change arriving to BIRD having applied it',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#renderDuration = new Histogram({
      name: 'birdwatch_render_duration_seconds',
      help: 'time to build the model and render every file',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#validateDuration = new Histogram({
      name: 'birdwatch_validate_duration_seconds',
      help: 'time bird -p and bird6 -p took on the staged files',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#reloadDuration = new Histogram({
      name: 'birdwatch_reload_duration_seconds',
      help: 'time BIRD took to answer configure, by daemon (applied reloads)',
      labelNames: ['daemon'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#sessions = new Gauge({
      name: 'birdwatch_bgp_sessions',
      help: 'BGP sessions by daemon, peer type and state (BGP state, else protocol state), from show protocols at scrape time',
      labelNames: ['daemon', 'type', 'state'],
      registers,
    });
    if (options.perPeer) {
      this.#peerEstablished = new Gauge({
        name: 'birdwatch_bgp_session_established',
        help: '1 when the BGP session is Established, else 0, per session: peer address and type (mesh, global, node, reflector, client), as MetalLB labels session_up by peer (--metrics-per-peer)',
        labelNames: ['daemon', 'protocol', 'peer', 'type'],
        registers,
      });
    }
    this.#birdReachable = new Gauge({
      name: 'birdwatch_bird_reachable',
      help: '1 when the daemon answered show protocols at scrape time, else 0',
      labelNames: ['daemon'],
      registers,
    });
    this.#ipipMode = new Gauge({
      name: 'birdwatch_ipip_mode',
      help: 'how IPIP pools are rendered: 1 for the mode in use (krt-tunnel, off)',
      labelNames: ['mode'],
      registers,
    });
    this.#quarantined = new Gauge({
      name: 'birdwatch_quarantined_entries',
      help: 'datastore entries held back because BIRD refused the lines rendered from them (until the entry changes)',
      registers,
    });
    this.#daemonInSync = new Gauge({
      name: 'birdwatch_daemon_in_sync',
      help: '1 when the daemon runs what the datastore says (no failure, no pending reload), else 0',
      labelNames: ['daemon'],
      registers,
    });
    // The info-metric convention (value 1, facts as labels): join on it to break any series down by version.
    new Gauge({
      name: 'birdwatch_build_info',
      help: 'birdwatch build facts as labels (version, Node.js version); always 1',
      labelNames: ['version', 'nodejs_version'],
      registers,
    }).set({ version: BIRDWATCH_VERSION, nodejs_version: process.version }, 1);
    this.#drifts = new Counter({
      name: 'birdwatch_bird_drifts_total',
      help: 'times BIRD was found running something birdwatch did not give it, by cause: restarted (loaded the files on disk), reconfigured (by someone else), files (changed on disk), guard-window (restarted inside a settle window); each is put right by the next cycle',
      labelNames: ['daemon', 'cause'],
      registers,
    });
    this.#heartbeatAge = new Gauge({
      name: 'birdwatch_heartbeat_age_seconds',
      help: 'time since the control loop last ticked (/healthz fails when it is stale)',
      registers,
    });
    this.#guard = new GuardMetrics(this.registry, options.status.daemonNames);
    // Every label value of the bounded sets exists from the start, so rate() and absent() behave.
    for (const result of CYCLE_RESULTS) this.#cycles.inc({ result }, 0);
    for (const kind of FAILURE_KINDS) this.#failures.inc({ kind }, 0);
    this.#validationFailures.inc(0);
    for (const daemon of options.status.daemonNames) {
      for (const result of RELOAD_RESULTS) this.#reloads.inc({ daemon, result }, 0);
      for (const cause of DRIFT_CAUSES) this.#drifts.inc({ daemon, cause }, 0);
    }
    for (const mode of ['krt-tunnel', 'off'] as const) this.#ipipMode.set({ mode }, mode === options.ipip ? 1 : 0);
    // prom-client's event-loop monitor samples every 10 ms by default: the main cost of an idle birdwatch.
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });
      // prom-client names these gauges *_total, which `promtool check metrics` rejects (only counters end in
      // _total); the per-type gauges without the suffix (nodejs_active_handles{type}, …) carry the same numbers.
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ])
        this.registry.removeSingleMetric(name);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  cycleEnded(report: CycleReport): void {
    this.#cycles.inc({ result: report.result });
    for (const failure of report.failures) {
      this.#failures.inc({ kind: failure.kind });
      if (failure.kind === 'validation') this.#validationFailures.inc();
    }
    if (report.refusedEntries > 0) this.#validationFailures.inc(report.refusedEntries);
    this.#quarantined.set(report.quarantined);
    this.#guard.cycleEnded(report, this.#options.status);
    // A cycle that could not render has no diagnostics to speak of: keep the last rendering's counts.
    if (!isRenderFailureKind(report.failureKind)) {
      this.#renderDuration.observe(s(report.renderMs));
      // Kinds seen before drop to 0 rather than vanish, so a fixed entry shows as a fall to zero.
      for (const entry of this.#skippedSeen.values()) entry.count = 0;
      for (const d of report.diagnostics) {
        const kind = classifyKey(d.key).kind;
        const id = `${kind}\0${d.action}`;
        const entry = this.#skippedSeen.get(id) ?? { kind, action: d.action, count: 0 };
        entry.count++;
        this.#skippedSeen.set(id, entry);
      }
      for (const { kind, action, count } of this.#skippedSeen.values()) this.#skipped.set({ kind, action }, count);
    }
    if (report.validateMs !== undefined) this.#validateDuration.observe(s(report.validateMs));
    for (const reload of report.reloads) {
      this.#reloads.inc({ daemon: reload.daemon, result: reload.result });
      if (reload.ms !== undefined) this.#reloadDuration.observe({ daemon: reload.daemon }, s(reload.ms));
    }
    if (report.latencyMs !== undefined) this.#latency.observe(s(report.latencyMs));
  }

  /** The exposition text. Concurrent scrapes share one round of BIRD queries. */
  scrape(): Promise<string> {
    this.#scraping ??= this.#collect().finally(() => {
      this.#scraping = undefined;
    });
    return this.#scraping;
  }

  async #collect(): Promise<string> {
    const { status } = this.#options;
    this.#datastoreSynced.set(status.datastore === 'synced' ? 1 : 0);
    for (const state of DATASTORE_STATES) this.#datastoreState.set({ state }, status.datastore === state ? 1 : 0);
    this.#revision.set(Number(status.revision));
    this.#lastApplied.set(status.lastAppliedAt === undefined ? 0 : status.lastAppliedAt / 1000);
    this.#heartbeatAge.set(s(Math.max(0, this.#now() - status.heartbeatAt)));
    for (const daemon of status.daemonNames) {
      const state = status.daemons[daemon];
      this.#daemonInSync.set(
        { daemon },
        status.renderFailure === undefined &&
          state?.failure === undefined &&
          state?.reloadPending === false &&
          state.drift === undefined &&
          state.lastAppliedAt !== undefined
          ? 1
          : 0,
      );
      for (const cause of DRIFT_CAUSES) {
        const id = `${daemon}\0${cause}`;
        const total = state?.drifts?.[cause] ?? 0;
        const added = total - (this.#driftsCounted.get(id) ?? 0);
        if (added > 0) this.#drifts.inc({ daemon, cause }, added);
        this.#driftsCounted.set(id, total);
      }
    }
    const families = await Promise.all(status.daemonNames.map((daemon) => this.#query(daemon)));
    this.#peerEstablished?.reset();
    // A (daemon, type, state) seen once stays, at 0 when empty: `sum(...{state="Established"})` must fall to
    // zero when every session drops, not vanish. The set is bounded (the daemons × 5 types × the BIRD states).
    for (const entry of this.#sessionsSeen.values()) entry.count = 0;
    for (const [i, daemon] of status.daemonNames.entries()) {
      const family = families[i]!;
      this.#birdReachable.set({ daemon }, family.reachable ? 1 : 0);
      if (!family.reachable) continue;
      for (const session of family.sessions) {
        const state = session.bgpState ?? (session.state === '?' ? 'unknown' : session.state);
        const id = `${daemon}\0${session.peerType}\0${state}`;
        const entry = this.#sessionsSeen.get(id) ?? { daemon, type: session.peerType, state, count: 0 };
        entry.count++;
        this.#sessionsSeen.set(id, entry);
        this.#peerEstablished?.set(
          { daemon, protocol: session.protocol, peer: session.peerAddress ?? '', type: session.peerType },
          session.established ? 1 : 0,
        );
      }
    }
    for (const { daemon, type, state, count } of this.#sessionsSeen.values())
      this.#sessions.set({ daemon, type, state }, count);
    return this.registry.metrics();
  }

  async #query(daemon: Daemon): Promise<FamilyStatus> {
    const family = FAMILY_OF_DAEMON[daemon];
    const socketPath = this.#options.sockets[daemon];
    if (socketPath === undefined) return { family, socketPath: '', reachable: false, error: `no socket for ${daemon}` };
    try {
      return await this.#options.queryFamilyStatus(family, socketPath, {
        timeoutMs: this.#options.birdTimeoutMs ?? 3_000,
      });
    } catch (error) {
      return { family, socketPath, reachable: false, error: String(error) };
    }
  }
}
