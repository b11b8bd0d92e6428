/**
 * Test-only pause points at the edges seam: the cycle's edges are injected, so a test wraps the real ones and
 * holds a step until it has killed BIRD (or birdwatch) at that exact point. Production code has no such branch.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { BirdRunState, GuardEdges, PipelineEdges, ReloadEdges } from '../../src/controller/edges.js';
import type { Daemon } from '../../src/model/daemon.js';

/**
 * Where a cycle can be held: inside `bird -p` (its answer held back; a staged set may be with BIRD already), after
 * BIRD took the staged set (`configure "<staged>"`: before the swap), before the swap, before a plain `configure`
 * (the files swapped), after BIRD took `configure timeout` (the window opening), after `configure confirm` (the
 * verdict given, the staged set not swapped in yet), before `configure undo`.
 */
export type PauseStep = 'validate' | 'reload-staged' | 'swap' | 'reload' | 'configure-timeout' | 'confirm' | 'undo';

export interface Pause {
  /** Resolves when the cycle reached the step (it then waits for `release`). */
  readonly reached: Promise<void>;
  /** `reached`, or a rejection naming the step after `ms`. */
  reachedWithin(ms: number): Promise<void>;
  release(): void;
}

interface Armed {
  readonly step: PauseStep;
  readonly daemon: Daemon | undefined;
  /** Pause at the nth matching call (1: the next one). */
  readonly nth: number;
  seen: number;
  readonly reach: () => void;
  readonly released: Promise<void>;
}

export class PausePoints {
  readonly #armed: Armed[] = [];

  /** Holds the nth next call of `step` (for `daemon`, or any) until `release`. */
  arm(step: PauseStep, options: { readonly daemon?: Daemon; readonly nth?: number } = {}): Pause {
    let reach: () => void = () => undefined;
    let release: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (reach = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#armed.push({ step, daemon: options.daemon, nth: options.nth ?? 1, seen: 0, reach, released });
    const reachedWithin = async (ms: number): Promise<void> => {
      const timer = new AbortController();
      try {
        await Promise.race([
          reached,
          delay(ms, undefined, { signal: timer.signal }).then(() => {
            throw new Error(
              `the cycle did not reach ${step}${options.daemon ? ` (${options.daemon})` : ''} within ${ms} ms`,
            );
          }),
        ]);
      } finally {
        timer.abort();
      }
    };
    return { reached, reachedWithin, release };
  }

  /** Called by the wrapped edges at each step: waits while a pause armed for it holds. */
  async at(step: PauseStep, daemon: Daemon | undefined): Promise<void> {
    for (const armed of [...this.#armed]) {
      if (armed.step !== step || (armed.daemon !== undefined && armed.daemon !== daemon)) continue;
      armed.seen++;
      if (armed.seen !== armed.nth) continue;
      this.#armed.splice(this.#armed.indexOf(armed), 1);
      armed.reach();
      await armed.released;
    }
  }
}

export type AllBirdEdges = ReloadEdges & GuardEdges;

/** The pipeline's edges, holding at `validate` (its answer) and `swap` (before it) when a pause is armed. */
export function pausingPipelineEdges(real: PipelineEdges, points: PausePoints): PipelineEdges {
  return {
    stage: (root, files) => real.stage(root, files),
    validate: async (daemon, stagedDir, spans, signal) => {
      const answer = await real.validate(daemon, stagedDir, spans, signal);
      await points.at('validate', daemon);
      return answer;
    },
    swap: async (configDir, stagedDir, names) => {
      await points.at('swap', names.some((n) => n.startsWith('bird6')) ? 'bird6' : 'bird');
      return real.swap(configDir, stagedDir, names);
    },
    write: (configDir, files) => real.write(configDir, files),
  };
}

/** BIRD's edges, holding at the BIRD steps of PauseStep when a pause is armed. */
export function pausingBirdEdges(real: AllBirdEdges, points: PausePoints): AllBirdEdges {
  const staged = real.reloadStaged?.bind(real);
  return {
    reload: async (daemon) => {
      await points.at('reload', daemon);
      return real.reload(daemon);
    },
    ...(staged && {
      reloadStaged: async (daemon: Daemon, stagedDir: string, onSent?: () => void) => {
        const outcome = await staged(daemon, stagedDir, onSent);
        await points.at('reload-staged', daemon);
        return outcome;
      },
    }),
    configureTimeout: async (daemon, seconds, configPath) => {
      const outcome = await real.configureTimeout(daemon, seconds, configPath);
      await points.at('configure-timeout', daemon);
      return outcome;
    },
    confirm: async (daemon) => {
      const result = await real.confirm(daemon);
      await points.at('confirm', daemon);
      return result;
    },
    undo: async (daemon) => {
      await points.at('undo', daemon);
      return real.undo(daemon);
    },
    snapshot: (daemon) => real.snapshot(daemon),
    status: (daemon): Promise<BirdRunState> => real.status(daemon),
  };
}
