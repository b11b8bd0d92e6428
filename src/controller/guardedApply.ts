import { readGuardMarker, removeGuardMarker, writeGuardMarker } from '../apply/guardMarker.js';
import { preparePreviousFiles } from '../apply/previousFiles.js';
import type { PreparedFile } from '../apply/swapFileSet.js';
import type { Logger } from '../observe/logger.js';
import { DAEMONS, type Daemon } from '../model/daemon.js';
import type { RunStatus } from '../observe/runStatus.js';
import { daemonOf, type FileSet } from '../render/fileSet.js';
import type { ApplyGuard } from './applyGuard.js';
import { classifyDaemonChange } from './applyPath.js';
import { summarizeConfigChange, type DaemonChange, type StatementSource } from './diffSummary.js';
import type { DaemonPipelineResult, PipelineEdges } from './applyPipeline.js';
import type { ReloadOutcome } from './reloadBird.js';
import type { GuardSnapshot } from './settleVerdict.js';

/** One daemon's guarded apply in a cycle: what it watched before, and why it is guarded. */
export interface GuardedDaemon {
  readonly before: GuardSnapshot;
  readonly reasons: readonly string[];
  readonly change: DaemonChange;
  /** The files on disk when it was planned (what BIRD runs): put back on an undo. */
  readonly live: ReadonlyMap<string, string>;
}

export interface GuardJudgement {
  readonly daemon: Daemon;
  readonly verdict: 'confirmed' | 'reverted' | 'interrupted';
  readonly summary: string;
  readonly holdMs: number;
  /** Files put back after the undo (undefined: none, or they could not be written: the live set is unknown). */
  readonly restored: readonly string[] | undefined;
  /** BIRD's state is not known to match the files (a confirm or undo that did not land): reload next cycle. */
  readonly reloadNeeded: boolean;
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const filesOf = (files: ReadonlyMap<string, string>, daemon: Daemon): Record<string, string> =>
  Object.fromEntries([...files].filter(([name]) => daemonOf(name) === daemon));

/**
 * The apply guard inside a cycle (ConfigApplier drives it): decide which daemons take the guarded path, send
 * them `configure timeout` in place of `configure` (a marker file first, so a birdwatch killed mid-window is
 * recovered at its next start), then wait the settle window and confirm or undo and put the files back.
 */
export class GuardedApplies {
  #recovered = false;
  readonly #reloaded = new Set<Daemon>();

  constructor(
    readonly guard: ApplyGuard,
    private readonly options: {
      readonly configDir: string;
      readonly log: Logger;
      readonly write: PipelineEdges['write'];
    },
  ) {}

  /**
   * Once, before the first cycle: a marker left by a birdwatch stopped inside a settle window. BIRD reverted by
   * itself (or is told to now: `configure undo` answers `Nothing to do` when it already did), and the files it
   * runs are put back, so the cycle that follows sees the change again and guards it again.
   */
  async recover(): Promise<{ daemons: Daemon[]; previousValues: Map<string, string | undefined> }> {
    const recovered: Daemon[] = [];
    const previousValues = new Map<string, string | undefined>();
    if (this.#recovered) return { daemons: recovered, previousValues };
    this.#recovered = true;
    for (const daemon of DAEMONS) {
      const marker = await readGuardMarker(this.options.configDir, daemon);
      if (!marker) continue;
      for (const [key, value] of Object.entries(marker.previousValues ?? {}))
        previousValues.set(key, value ?? undefined);
      const undo = await this.guard.edges.undo(daemon).then(
        (r) => r.message,
        (error: unknown) => `not sent (${describe(error)})`,
      );
      try {
        await this.options.write(this.options.configDir, new Map(Object.entries(marker.previous)));
        await removeGuardMarker(this.options.configDir, daemon);
        recovered.push(daemon);
        this.options.log.warn(
          { component: 'guard', daemon, undo, files: Object.keys(marker.previous) },
          `a previous birdwatch stopped inside a settle window (configure timeout ${marker.timeoutS} s at ${new Date(marker.at).toISOString()}): ${daemon} reverts by itself; put back the files it runs`,
        );
      } catch (error) {
        this.options.log.error(
          { component: 'guard', daemon },
          `cannot put back ${daemon}'s files after an interrupted settle window: ${describe(error)}`,
        );
      }
    }
    return { daemons: recovered, previousValues };
  }

  /** Which daemons this round guards: a guarded change, the guard on, and a session Established to protect. */
  async plan(
    before: ReadonlyMap<string, string>,
    files: FileSet,
    statements?: StatementSource,
  ): Promise<Map<Daemon, GuardedDaemon>> {
    const guarded = new Map<Daemon, GuardedDaemon>();
    if (!this.guard.settings.enabled) return guarded;
    for (const change of summarizeConfigChange(before, files, statements).daemons) {
      const path = classifyDaemonChange(change);
      if (path.path !== 'guarded') continue;
      const snapshot = await this.guard.before(change.daemon);
      if (snapshot === undefined) continue; // nothing Established to protect: the fast path
      guarded.set(change.daemon, { before: snapshot, reasons: path.reasons, change, live: before });
    }
    return guarded;
  }

  /**
   * The pipeline's edges with `configure` replaced by `configure timeout` for the guarded daemons; every reload
   * of changed files records the files the daemon ran (for `birdwatch undo`) — written beside the reload, put in
   * place only once BIRD took the new set.
   */
  edgesFor(
    edges: PipelineEdges,
    guarded: ReadonlyMap<Daemon, GuardedDaemon>,
    before: ReadonlyMap<string, string>,
    files: FileSet,
    previousValues: () => Record<string, string | null>,
  ): PipelineEdges {
    const { configDir, log } = this.options;
    // A staged set BIRD took keeps its record aside until the swap: a set then refused by bird -p is taken back.
    const awaitingSwap = new Map<Daemon, PreparedFile>();
    const warn =
      (daemon: Daemon) =>
      (error: unknown): undefined => {
        log.warn(
          { component: 'guard', daemon },
          `cannot record ${daemon}'s previous files for birdwatch undo: ${describe(error)}`,
        );
        return undefined;
      };
    const recorded = async (
      daemon: Daemon,
      send: () => Promise<ReloadOutcome>,
      commit: 'applied' | 'swapped' = 'applied',
    ): Promise<ReloadOutcome> => {
      const previous = filesOf(before, daemon);
      const changed = Object.entries(filesOf(files, daemon)).some(([name, content]) => previous[name] !== content);
      const record = changed ? preparePreviousFiles(configDir, daemon, previous).catch(warn(daemon)) : undefined;
      let outcome: ReloadOutcome;
      try {
        outcome = await send();
      } catch (error) {
        await (await record)?.discard();
        throw error;
      }
      const prepared = await record;
      if (outcome.kind !== 'applied') await prepared?.discard();
      else if (commit === 'swapped' && prepared) awaitingSwap.set(daemon, prepared);
      else await prepared?.commit().catch(warn(daemon));
      return outcome;
    };
    return {
      ...edges,
      reloadStaged: edges.reloadStaged
        ? (daemon, stagedDir, onSent) =>
            recorded(daemon, () => edges.reloadStaged!(daemon, stagedDir, onSent), 'swapped')
        : undefined,
      swap: async (dir, stagedDir, names) => {
        const daemon = names.length > 0 ? daemonOf(names[0]!) : undefined;
        const prepared = daemon === undefined ? undefined : awaitingSwap.get(daemon);
        try {
          await edges.swap(dir, stagedDir, names);
        } finally {
          // Swapped, or part-way: BIRD runs the new set either way, and `undo` must lead back to the old one.
          if (prepared && daemon) {
            awaitingSwap.delete(daemon);
            await prepared.commit().catch(warn(daemon));
          }
        }
      },
      reload: async (daemon, why) => {
        if (why === 'back') {
          await awaitingSwap.get(daemon)?.discard();
          awaitingSwap.delete(daemon);
          return edges.reload(daemon, why);
        }
        if (!guarded.has(daemon))
          return why === 'swapped' ? recorded(daemon, () => edges.reload(daemon, why)) : edges.reload(daemon, why);
        try {
          await writeGuardMarker(configDir, {
            daemon,
            previous: filesOf(before, daemon),
            at: Date.now(),
            timeoutS: this.guard.timeoutS,
            previousValues: previousValues(),
          });
        } catch (error) {
          // Without the marker a birdwatch killed mid-window could not recover: apply unguarded instead.
          log.error(
            { component: 'guard', daemon },
            `cannot write the guard marker (${describe(error)}); applying without the guard`,
          );
          return recorded(daemon, () => edges.reload(daemon, why));
        }
        const outcome = await recorded(daemon, () => this.guard.edges.configureTimeout(daemon, this.guard.timeoutS));
        if (outcome.kind === 'applied') this.#reloaded.add(daemon);
        else await removeGuardMarker(configDir, daemon).catch(() => undefined);
        return outcome;
      },
    };
  }

  /** Daemons sent `configure timeout` this cycle (cleared by judge). */
  get pending(): readonly Daemon[] {
    return [...this.#reloaded];
  }

  /**
   * The settle window for every daemon applied under the guard (side by side), then per daemon `configure
   * confirm`, or `configure undo` and its previous files put back.
   */
  async judge(
    guarded: ReadonlyMap<Daemon, GuardedDaemon>,
    results: readonly DaemonPipelineResult[],
    context: { readonly status: RunStatus; readonly now: () => number; readonly signal?: AbortSignal },
  ): Promise<GuardJudgement[]> {
    const daemons = [...this.#reloaded].filter((d) => guarded.has(d));
    this.#reloaded.clear();
    if (daemons.length === 0) return [];
    const { status, now, signal } = context;
    status.guarding = { daemons, since: now(), windowMs: this.guard.settings.windowMs };
    const { log } = this.options;
    for (const daemon of daemons)
      log.info(
        { component: 'guard', daemon, reasons: guarded.get(daemon)!.reasons, timeoutS: this.guard.timeoutS },
        `guarded apply: ${daemon} runs the new configuration under configure timeout ${this.guard.timeoutS} s; watching its sessions for ${(this.guard.settings.windowMs / 1000).toFixed(1)} s`,
      );
    try {
      return await Promise.all(
        daemons.map(async (daemon): Promise<GuardJudgement> => {
          const plan = guarded.get(daemon)!;
          const outcome = await this.guard.settle({
            daemon,
            before: plan.before,
            removed: new Set(plan.change.removed),
            signal,
            tick: () => {
              status.heartbeatAt = now();
            },
          });
          if (outcome.kind === 'verdict' && outcome.verdict.ok) {
            const confirm = await this.guard.edges.confirm(daemon).catch((error: unknown) => ({
              outcome: 'refused' as const,
              message: describe(error),
            }));
            await removeGuardMarker(this.options.configDir, daemon).catch(() => undefined);
            const landed = confirm.outcome === 'confirmed';
            if (landed)
              log.info(
                { component: 'guard', daemon, holdMs: Math.round(outcome.heldMs) },
                `guarded apply confirmed: ${outcome.verdict.summary}`,
              );
            // The timer was gone (BIRD restarted, or the margin passed) or BIRD did not answer: reload to be sure.
            else
              log.warn(
                { component: 'guard', daemon, confirm: confirm.message },
                `guarded apply judged good but configure confirm did not land (${confirm.message}); ${daemon} will be reloaded`,
              );
            return {
              daemon,
              verdict: 'confirmed',
              summary: outcome.verdict.summary,
              holdMs: outcome.heldMs,
              restored: undefined,
              reloadNeeded: !landed,
            };
          }
          const summary =
            outcome.kind === 'verdict' ? outcome.verdict.summary : 'the settle window was cut short (shutdown)';
          const undo = await this.guard.edges.undo(daemon).catch((error: unknown) => ({
            outcome: 'refused' as const,
            message: describe(error),
          }));
          const result = results.find((r) => r.daemon === daemon);
          const before = plan.live;
          const previous = new Map(
            (result?.written ?? []).flatMap((name) => (before.has(name) ? [[name, before.get(name)!] as const] : [])),
          );
          let restored: string[] | undefined;
          try {
            await this.options.write(this.options.configDir, previous);
            restored = [...previous.keys()];
            await removeGuardMarker(this.options.configDir, daemon);
          } catch (error) {
            log.error(
              { component: 'guard', daemon },
              `cannot put back ${daemon}'s previous files after the undo: ${describe(error)}`,
            );
          }
          const verdict = outcome.kind === 'verdict' ? 'reverted' : 'interrupted';
          (verdict === 'reverted' ? log.error.bind(log) : log.warn.bind(log))(
            { component: 'guard', daemon, undo: undo.message, files: restored, holdMs: Math.round(outcome.heldMs) },
            `guarded apply ${verdict === 'reverted' ? 'reverted' : 'interrupted'}: ${summary}; sent configure undo (${undo.message}) and put back the files ${daemon} runs`,
          );
          return {
            daemon,
            verdict,
            summary,
            holdMs: outcome.heldMs,
            restored,
            reloadNeeded: undo.outcome === 'refused',
          };
        }),
      );
    } finally {
      status.guarding = undefined;
    }
  }
}
