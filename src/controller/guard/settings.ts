/** The operator's knobs (`run --guard …`), validated at the CLI boundary. */
export interface ApplyGuardSettings {
  readonly enabled: boolean;
  /** How long a guarded apply is watched before the verdict (the settle window). */
  readonly windowMs: number;
  /** Revert when the watched sessions' exported routes fall by more than this (percent). */
  readonly maxExportDropPercent: number;
  /** Seconds BIRD waits beyond the window before it reverts by itself (birdwatch gone mid-window). */
  readonly marginS: number;
  /** How often the window ticks (liveness heartbeat). */
  readonly tickMs: number;
}

export const DEFAULT_GUARD_SETTINGS: ApplyGuardSettings = {
  enabled: true,
  windowMs: 30_000,
  maxExportDropPercent: 50,
  marginS: 15,
  tickMs: 1_000,
};

/** BIRD's own timer (`configure timeout N`): the window plus a margin for the verdict, in whole seconds. */
export const configureTimeoutS = (settings: ApplyGuardSettings): number =>
  Math.ceil(settings.windowMs / 1000) + settings.marginS;
