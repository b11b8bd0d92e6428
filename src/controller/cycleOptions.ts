import type { Keyspace } from '../model/keyspaceIndex.js';
import type { CycleObserver } from '../observe/cycleReport.js';
import type { Logger } from '../observe/logger.js';
import type { RunStatus } from '../observe/runStatus.js';
import type { Clock } from './clock.js';
import type { GuardEdges, PipelineEdges, ReloadEdges } from './edges.js';
import type { ApplyGuardSettings } from './guard/settings.js';
import type { RoleRenderer } from './roleRenderer.js';

/** What `run` adds to a cycle: BIRD's control socket, the apply guard, the staged method. */
export interface ApplyOptions {
  readonly kind: 'apply';
  readonly bird: ReloadEdges;
  /** Guarded changes go out as `configure timeout`, then confirm or undo (README "The apply guard"). */
  readonly guard?: { readonly settings: ApplyGuardSettings; readonly edges: GuardEdges; readonly clock?: Clock };
  /** false (`--sequential-reload`): validate, swap, then `configure`; never the staged set. Default true. */
  readonly overlap?: boolean;
  /** Ticks while a settle window runs (the run loop's liveness heartbeat). */
  readonly heartbeat?: () => void;
}

export interface ConfigApplierOptions {
  readonly role: RoleRenderer;
  readonly configDir: string;
  readonly keyspace: Keyspace;
  readonly edges: PipelineEdges;
  /** `check` (render --diff: nothing written), `write` (render --out: nothing reloaded), or apply (run). */
  readonly mode: { readonly kind: 'check' | 'write' } | ApplyOptions;
  readonly log: Logger;
  /** Fed by the cycle (its own state, published); health and metrics read it. */
  readonly status: RunStatus;
  readonly observer?: CycleObserver;
  /** Monotonic clock (ms) for latencies; performance.now by default. */
  readonly now?: () => number;
  /** Entries one cycle may quarantine before it gives up and keeps the live configuration. Default 8. */
  readonly maxQuarantinePerCycle?: number;
  /** Where staging dirs go; default the config dir (a scratch dir for `check`). */
  readonly stageRoot?: string;
  /** false: write without bird -p (`render --no-validate`). Default true. */
  readonly validate?: boolean;
}
