import { once } from 'node:events';
import { ExponentialBackoff, noJitterGenerator, type IBackoff } from 'cockatiel';
import type { ConfigDirLock, lockConfigDir } from '../apply/configDirLock.js';
import { removeLeftovers } from '../apply/leftovers.js';
import type { KeyspaceSource, LiveKeyspace } from '../datastore/keyspaceSource.js';
import type { Logger } from '../observe/logger.js';
import type { LogEvent } from '../observe/logEvents.js';
import type { CycleObserver } from '../observe/cycleReport.js';
import { RunStatus } from '../observe/runStatus.js';
import { logDatastoreState, logProgressByReads } from '../datastore/stateLog.js';
import { systemClock, type Clock } from './clock.js';
import { CycleCoalescer } from './coalescer.js';
import { ConfigApplier } from './configApplier.js';
import type { ApplyOptions } from './cycleOptions.js';
import type { CycleResult } from './cycleResult.js';
import { BirdWatcher } from './birdWatcher.js';
import type { BirdStatusEdges, PipelineEdges, ReloadEdges } from './edges.js';
import type { RoleRenderer } from './roleRenderer.js';
import { loadCompiledTemplates } from '../render/templateLoader.js';
import { TemplateDirWatcher } from './templateDirWatcher.js';
import { errorMessage } from '../errorMessage.js';

export interface RunOptions {
  readonly role: RoleRenderer;
  readonly configDir: string;
  /** Stage, bird -p, swap: realPipelineEdges, or a test's fakes. */
  readonly edges: PipelineEdges;
  /** BIRD's `configure`: realBirdEdges, or a test's fakes. */
  readonly bird: ReloadEdges;
  /** Takes the config dir: lockConfigDir (flock(1), a child process), or a unit test's in-memory lock. */
  readonly lockConfigDir: typeof lockConfigDir;
  readonly templatesDir: string | undefined;
  readonly minReloadIntervalMs: number;
  /** Largest share of time BIRD may spend reconfiguring (default 0.25; reloadPacer.ts). */
  readonly maxReloadShare?: number;
  /** Where the keyspace comes from: etcdKeyspaceSource in production, a MemoryKeyspaceSource in unit tests. */
  readonly keyspace: KeyspaceSource;
  readonly log: Logger;
  readonly status?: RunStatus;
  readonly clock?: Clock;
  readonly observer?: CycleObserver;
  /** How often the idle loop touches status.heartbeatAt (liveness); default 2 s. */
  readonly heartbeatIntervalMs?: number;
  /** The apply guard (README "The apply guard"): guarded changes go out as configure timeout, then confirm or undo. */
  readonly guard?: ApplyOptions['guard'];
  /** false (`--sequential-reload`): validate, swap, then configure, instead of BIRD taking the staged set. */
  readonly overlap?: boolean;
  /**
   * The BIRD watcher (README "Reliability"): `show status` per daemon and a stat of the live files every interval
   * between cycles; a restarted or reconfigured BIRD, or drifted files, start a cycle. Absent: not watched.
   */
  readonly watch?: { readonly edges: BirdStatusEdges; readonly intervalMs?: number };
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 2_000;

/** A cycle that did not converge is retried after 200 ms, 400 ms, … up to 5 s (no jitter: one process, one BIRD). */
const RETRY_BACKOFF = new ExponentialBackoff({ initialDelay: 200, maxDelay: 5000, generator: noJitterGenerator });

/**
 * `birdwatch run`: mirror the keyspace, and on every relevant change run one coalesced cycle
 * (render → compare → stage → validate → swap → reload). Ends when `signal` aborts, after the current cycle.
 */
export class RunController {
  readonly status: RunStatus;
  readonly #mirror: LiveKeyspace;
  readonly #applier: ConfigApplier;
  readonly #coalescer: CycleCoalescer;
  readonly #abort = new AbortController();
  readonly #clock: Clock;
  #templateWatcher: TemplateDirWatcher | undefined;
  #lock: ConfigDirLock | undefined;
  #firstChangeAt: number | undefined;
  #retryBackoff: IBackoff<unknown> | undefined;
  #retryScheduled = false;
  #synced = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #inCycle = false;
  /** Monotonic ms of the oldest change no finished cycle has handled (published as status.changePendingSince). */
  #changePendingSince: number | undefined;
  readonly #watcher: BirdWatcher | undefined;
  #watching: Promise<void> | undefined;
  /** The SIGHUP re-read in progress, and whether another was asked for meanwhile (a storm is one or two re-reads). */
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;

  private constructor(
    private readonly options: RunOptions,
    templates: Awaited<ReturnType<typeof loadCompiledTemplates>>,
  ) {
    this.status = options.status ?? new RunStatus(options.role.daemons);
    this.#clock = options.clock ?? systemClock;
    const log = options.log;
    this.#mirror = options.keyspace.open(options.role.scope, {
      onChange: (keys) => this.#onChange(keys),
      onStateChange: (state, info) => {
        this.status.datastore = state;
        this.status.datastoreSince = info.since;
        this.status.datastoreDetail = info.reason;
        logDatastoreState(log, state, info, this.#mirror);
      },
      onRetry: (error) =>
        log.warn(
          { component: 'datastore', event: 'datastore-retry' satisfies LogEvent, kind: error.kind },
          `etcd: ${error.message}; retrying with backoff`,
        ),
      onProgressByReads: (endpoint) => logProgressByReads(log, endpoint),
      onResync: (reason) =>
        log.warn(
          {
            component: 'datastore',
            event: 'datastore-resync' satisfies LogEvent,
            revision: String(this.#mirror.revision),
          },
          `etcd: ${reason}; re-reading everything`,
        ),
    });
    this.#applier = new ConfigApplier(
      {
        role: options.role,
        configDir: options.configDir,
        keyspace: this.#mirror.entries,
        edges: options.edges,
        mode: {
          kind: 'apply',
          bird: options.bird,
          guard: options.guard,
          overlap: options.overlap,
          heartbeat: () => (this.status.heartbeatAt = this.#clock.now()),
        },
        log,
        status: this.status,
        observer: options.observer,
        now: () => this.#clock.now(),
      },
      templates,
    );
    if (options.watch)
      this.#watcher = new BirdWatcher({
        daemons: options.role.daemons,
        edges: options.watch.edges,
        clock: this.#clock,
        intervalMs: options.watch.intervalMs,
        filesChanged: () => this.#applier.filesChangedOnDisk(),
        busy: () => this.#inCycle || this.#coalescer.busy,
        onDrift: (daemon, drift) => {
          this.#applier.drifted(daemon, drift);
          this.#trigger().catch(() => undefined);
        },
        log,
      });
    this.#coalescer = new CycleCoalescer({
      clock: this.#clock,
      minReloadIntervalMs: options.minReloadIntervalMs,
      maxReloadShare: options.maxReloadShare,
      signal: this.#abort.signal,
      runCycle: (signal) => this.#cycle(signal),
    });
  }

  static async create(options: RunOptions): Promise<RunController> {
    return new RunController(options, await loadCompiledTemplates(options.templatesDir, options.role.layout));
  }

  get cycles(): number {
    return this.#coalescer.cycles;
  }

  /** Syncs (retrying until etcd answers), applies once, then keeps watching until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = (): void => this.#abort.abort();
    if (signal.aborted) return;
    signal.addEventListener('abort', stop, { once: true });
    try {
      try {
        await this.start();
      } catch (error) {
        if (!this.#abort.signal.aborted) throw error; // stopped while still waiting for etcd
      }
      if (!this.#abort.signal.aborted) await once(this.#abort.signal, 'abort');
    } finally {
      signal.removeEventListener('abort', stop);
      await this.close();
    }
  }

  /**
   * Takes the config dir (refusing if another birdwatch holds it), then the first complete sync and the first
   * cycle; nothing is written before the sync completes.
   */
  async start(): Promise<void> {
    this.#lock ??= await this.options.lockConfigDir(this.options.configDir, `birdwatch run (pid ${process.pid})`);
    this.#startHeartbeat();
    const leftovers = await removeLeftovers(this.options.configDir);
    if (leftovers.length > 0)
      this.options.log.info(
        { component: 'apply', event: 'leftovers-removed' satisfies LogEvent, removed: leftovers },
        'removed files left by an interrupted run',
      );
    await this.#mirror.start(this.#abort.signal);
    this.#synced = true;
    this.#watchTemplates();
    this.#watching ??= this.#watcher?.run(this.#abort.signal);
    await this.#trigger();
  }

  /** Waits until no cycle is running or queued. */
  idle(): Promise<void> {
    return this.#coalescer.idle();
  }

  /**
   * SIGHUP: re-read everything from etcd, the templates and the files on disk, then re-render and reload every
   * daemon. Never throws: a failed re-read is logged and the next change or retry carries on.
   */
  refresh(): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    // SIGHUPs arriving during a re-read make one more re-read after it, not one each.
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false;
        await this.#refreshOnce();
      } while (this.#refreshAgain && !this.#abort.signal.aborted);
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refreshOnce(): Promise<void> {
    const log = this.options.log;
    try {
      this.#applier.setTemplates(await loadCompiledTemplates(this.options.templatesDir, this.options.role.layout));
      this.#applier.forgetLiveState();
      await this.#mirror.resync();
      // Stopping settles the re-read unfinished (the mirror closes): nothing was read.
      if (this.#abort.signal.aborted) return;
      log.info(
        {
          component: 'datastore',
          event: 'reread' satisfies LogEvent,
          revision: String(this.#mirror.revision),
          keys: this.#mirror.entries.size,
        },
        'etcd re-read',
      );
    } catch (error) {
      // Stopping cut the re-read short: that is the shutdown, not a failure.
      if (this.#abort.signal.aborted) return;
      log.error(
        { component: 'datastore', event: 'reread-failed' satisfies LogEvent, err: error },
        `re-read failed: ${errorMessage(error)}; carrying on with what is held`,
      );
    }
    if (!this.#abort.signal.aborted) await this.#trigger();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#heartbeat);
    try {
      await this.#refreshing;
      await this.#watching;
      // A cycle cut short by the shutdown (its reload or bird -p aborted) is not a failure of the shutdown.
      await this.#coalescer.idle().catch((error: unknown) => {
        if (!this.#abort.signal.aborted || !(error instanceof Error && error.name === 'AbortError')) throw error;
      });
      await this.#templateWatcher?.close();
    } finally {
      // The watch stream keeps the process alive until cancelled: closed whatever happened above.
      await this.#mirror.close();
      await this.#lock?.release().catch(() => undefined);
      this.#lock = undefined;
    }
  }

  /** Starts (or joins) a cycle; the loop never rejects, but if it does, that is one log line, not a crash. */
  #trigger(): Promise<void> {
    this.#changePendingSince ??= this.#clock.now();
    this.status.changePendingSince = this.#changePendingSince;
    return this.#coalescer.trigger().catch((error: unknown) => {
      this.options.log.error(
        { component: 'cycle', event: 'cycle-loop-failed' satisfies LogEvent, err: error },
        `the cycle loop failed: ${errorMessage(error)}; retrying`,
      );
      this.#scheduleRetry();
    });
  }

  #onChange(keys: readonly string[]): void {
    this.status.revision = this.#mirror.revision;
    if (!this.#synced) return;
    // A change that cannot alter this role's output (another host's blocks, say) does not start a cycle.
    if (!keys.some((key) => this.options.role.isRelevant(key))) return;
    this.#firstChangeAt ??= this.#clock.now();
    this.#trigger().catch(() => undefined);
  }

  async #cycle(signal: AbortSignal): Promise<CycleResult> {
    const changeAt = this.#firstChangeAt;
    this.#firstChangeAt = undefined;
    this.status.heartbeatAt = this.#clock.now();
    this.#inCycle = true;
    this.status.cycleStartedAt = this.#clock.now();
    // Changes arriving from here on wait for the next cycle.
    this.#changePendingSince = undefined;
    this.status.changePendingSince = undefined;
    let ended = 0;
    const result = await this.#applier.cycle(signal, changeAt).finally(() => {
      this.#inCycle = false;
      ended = this.#clock.now();
      this.status.cycleStartedAt = undefined;
      this.status.heartbeatAt = ended;
      // What BIRD runs now is birdwatch's doing: the watcher's reference for the looks that follow.
      this.#watcher?.cycleEnded().catch(() => undefined);
    });
    if (result.retry) {
      // Still not where the datastore says: the change is pending until a retry succeeds.
      this.#changePendingSince ??= ended;
      this.status.changePendingSince = this.#changePendingSince;
      this.#scheduleRetry();
    } else this.#retryBackoff = undefined;
    return result;
  }

  /**
   * Liveness: the timer ticks the heartbeat while no cycle runs; a cycle ticks it when it starts and ends. A
   * cycle that never ends (a hung bird -p, say) lets it go stale, and /healthz reports the loop stuck.
   */
  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.status.heartbeatAt = this.#clock.now();
    this.#heartbeat = setInterval(() => {
      if (!this.#inCycle) this.status.heartbeatAt = this.#clock.now();
    }, this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
    this.#heartbeat.unref();
  }

  /** Retries a cycle that did not converge (BIRD unreachable, a full disk, a refused reload), with backoff. */
  #scheduleRetry(): void {
    if (this.#retryScheduled || this.#abort.signal.aborted) return;
    this.#retryScheduled = true;
    this.#retryBackoff = this.#retryBackoff?.next(undefined) ?? RETRY_BACKOFF.next();
    const delay = this.#retryBackoff.duration;
    this.#clock
      .sleep(delay, this.#abort.signal)
      .then(async () => {
        this.#retryScheduled = false;
        if (!this.#abort.signal.aborted) await this.#trigger();
      })
      .catch(() => {
        this.#retryScheduled = false; // aborted: stopping
      });
  }

  #watchTemplates(): void {
    const dir = this.options.templatesDir;
    if (!dir) return;
    this.#templateWatcher = new TemplateDirWatcher(dir, () => {
      loadCompiledTemplates(dir, this.options.role.layout)
        .then(async (templates) => {
          this.options.log.info(
            { component: 'templates', event: 'templates-changed' satisfies LogEvent },
            `templates in ${dir} changed; re-rendering`,
          );
          this.#applier.setTemplates(templates);
          await this.#trigger();
        })
        .catch((error: unknown) =>
          this.options.log.error(
            { component: 'templates', event: 'templates-load-failed' satisfies LogEvent, err: error },
            `cannot reload templates from ${dir}`,
          ),
        );
    });
  }
}
