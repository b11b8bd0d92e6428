import type { Command } from 'commander';
import { DEFAULT_GUARD_SETTINGS, type ApplyGuardSettings } from '../controller/guard/settings.js';
import { parseDuration } from './duration.js';
import { UsageError } from './usageError.js';

export interface GuardFlags {
  readonly guard: string;
  readonly guardWindow: string;
  readonly guardMaxRouteDrop: string;
  readonly guardMargin: string;
}

/** The apply guard's flags on `run` (README "The apply guard"). */
export function addGuardOptions(command: Command): Command {
  return command
    .option(
      '--guard <on|off>',
      'apply changes that can affect existing sessions with configure timeout, watch them, then confirm or undo',
      'on',
    )
    .option(
      '--guard-window <duration>',
      'settle window: how long a guarded apply is watched before confirm or undo (30s, 1m)',
      `${DEFAULT_GUARD_SETTINGS.windowMs / 1000}s`,
    )
    .option(
      '--guard-max-route-drop <percent>',
      'undo when the routes the watched sessions export fall by more than this (0-100)',
      String(DEFAULT_GUARD_SETTINGS.maxExportDropPercent),
    )
    .option(
      '--guard-margin <duration>',
      'BIRD reverts by itself this long after the window if no verdict came (birdwatch gone)',
      `${DEFAULT_GUARD_SETTINGS.marginS}s`,
    );
}

export function parseGuardOptions(flags: GuardFlags): ApplyGuardSettings {
  const mode = flags.guard.trim().toLowerCase();
  if (mode !== 'on' && mode !== 'off') throw new UsageError('--guard', flags.guard, 'expected on or off');
  const windowMs = parseDuration('--guard-window', flags.guardWindow, { minMs: 1_000, maxMs: 600_000 });
  const marginMs = parseDuration('--guard-margin', flags.guardMargin, { minMs: 1_000, maxMs: 600_000 });
  if (marginMs % 1000 !== 0) throw new UsageError('--guard-margin', flags.guardMargin, 'BIRD counts whole seconds');
  const drop = /^(\d{1,3}(?:\.\d+)?)\s*%?$/.exec(flags.guardMaxRouteDrop.trim());
  const percent = drop ? Number(drop[1]) : NaN;
  if (!(percent >= 0 && percent <= 100))
    throw new UsageError('--guard-max-route-drop', flags.guardMaxRouteDrop, 'expected a percentage from 0 to 100');
  return {
    ...DEFAULT_GUARD_SETTINGS,
    enabled: mode === 'on',
    windowMs,
    maxExportDropPercent: percent,
    marginS: marginMs / 1000,
  };
}
