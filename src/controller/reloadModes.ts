import { canNameInConfigure } from '../bird/configPath.js';
import type { Daemon } from '../model/daemon.js';
import type { LogEvent } from '../observe/logEvents.js';
import type { Logger } from '../observe/logger.js';
import type { DaemonPipelineResult } from './applyPipeline.js';

/**
 * Whether each daemon may be given the staged set while bird -p checks it (the `staged` method), remembered
 * between cycles (README "The apply path"): on unless `--sequential-reload` or the staging path cannot be named to
 * BIRD; off for good for a daemon that cannot open the staged files (it sees the config dir at another path); off
 * until bird -p accepts a set again after bird -p could not run or refused what BIRD took — else each retry would
 * give BIRD the set and take it back (a flap).
 */
export class ReloadModes {
  readonly #overlap = new Set<Daemon>();
  readonly #sequentialUntilValid = new Set<Daemon>();

  constructor(
    daemons: readonly Daemon[],
    options: { readonly overlap: boolean; readonly stageRoot: string },
    private readonly log: Logger,
  ) {
    if (options.overlap && canNameInConfigure(options.stageRoot))
      for (const daemon of daemons) this.#overlap.add(daemon);
  }

  staged(daemon: Daemon): boolean {
    return this.#overlap.has(daemon) && !this.#sequentialUntilValid.has(daemon);
  }

  /** What a pipeline run teaches about its daemon. */
  note(r: DaemonPipelineResult): void {
    if (r.stagedUnreadable !== undefined && this.#overlap.delete(r.daemon))
      this.log.warn(
        {
          component: 'apply',
          daemon: r.daemon,
          event: 'staged-unreadable' satisfies LogEvent,
          reply: r.stagedUnreadable,
        },
        `${r.daemon} cannot read birdwatch's staged files (${r.stagedUnreadable}); from now on ${r.daemon} is reloaded after the swap, not while bird -p checks (--sequential-reload says so from the start)`,
      );
    if (r.validateMs === undefined) return;
    const couldNotRun = r.failure?.step === 'validate' && r.failure.transient;
    const disagreed = r.validation !== undefined && r.stagedReload?.kind === 'applied';
    if (couldNotRun || disagreed) this.#sequentialUntilValid.add(r.daemon);
    else if (r.validation === undefined) this.#sequentialUntilValid.delete(r.daemon);
  }
}
