import { errorMessage } from '../../errorMessage.js';
import type { Daemon } from '../../model/daemon.js';
import type { LogEvent } from '../../observe/logEvents.js';
import type { Logger } from '../../observe/logger.js';
import type { GuardEdges, PipelineEdges } from '../edges.js';
import { readGuardMarker, removeGuardMarker } from './marker.js';

/** The daemons whose window was recovered, and the datastore values their markers recorded (held entries' past). */
export interface RecoveredWindows {
  readonly daemons: Daemon[];
  readonly previousValues: Map<string, string | undefined>;
}

/**
 * Once, before the first cycle: a marker left by a birdwatch stopped inside a settle window. BIRD reverted by
 * itself (or is told to now: `configure undo` answers `Nothing to do` when it already did), and the files it
 * runs are put back, so the cycle that follows sees the change again and guards it again.
 */
export async function recoverSettleWindows(options: {
  readonly configDir: string;
  readonly log: Logger;
  readonly edges: Pick<GuardEdges, 'undo'>;
  /** The pipeline's durable write: the files BIRD runs, back on disk. */
  readonly write: PipelineEdges['write'];
  readonly daemons: readonly Daemon[];
}): Promise<RecoveredWindows> {
  const recovered: Daemon[] = [];
  const previousValues = new Map<string, string | undefined>();
  const { configDir, log, edges, write } = options;
  for (const daemon of options.daemons) {
    const marker = await readGuardMarker(configDir, daemon);
    if (!marker) continue;
    for (const [key, value] of Object.entries(marker.previousValues ?? {})) previousValues.set(key, value ?? undefined);
    const undo = await edges.undo(daemon).then(
      (r) => r.message,
      (error: unknown) => `not sent (${errorMessage(error)})`,
    );
    try {
      await write(configDir, new Map(Object.entries(marker.previous)));
      await removeGuardMarker(configDir, daemon);
      recovered.push(daemon);
      log.warn(
        {
          component: 'guard',
          daemon,
          event: 'guard-window-recovered' satisfies LogEvent,
          undo,
          files: Object.keys(marker.previous),
        },
        `a previous birdwatch stopped inside a settle window (configure timeout ${marker.timeoutS} s at ${new Date(marker.at).toISOString()}): ${daemon} reverts by itself; put back the files it runs`,
      );
    } catch (error) {
      log.error(
        { component: 'guard', daemon, event: 'guard-recover-failed' satisfies LogEvent },
        `cannot put back ${daemon}'s files after an interrupted settle window: ${errorMessage(error)}`,
      );
    }
  }
  return { daemons: recovered, previousValues };
}
