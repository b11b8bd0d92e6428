import { removeFilesDurably } from '../apply/removeFiles.js';
import { errorMessage } from '../errorMessage.js';
import type { Daemon } from '../model/daemon.js';
import type { Logger } from '../observe/logger.js';
import type { LogEvent } from '../observe/logEvents.js';
import { absentDaemonFiles } from './absentDaemonFiles.js';

/**
 * Removes the files of a daemon the role does not run (bird6's, after an upgrade from BIRD 1.6 to BIRD 2/3 in the
 * same config dir; absentDaemonFiles.ts says why removed), once the role's own files are in place. True when done;
 * false on a failure (logged), to be tried again next cycle.
 */
export async function removeAbsentDaemonFiles(
  configDir: string,
  daemons: readonly Daemon[],
  log: Logger,
): Promise<boolean> {
  const files = absentDaemonFiles(daemons);
  try {
    const configuration = await removeFilesDurably(configDir, files.configuration);
    const state = await removeFilesDurably(configDir, [
      ...files.state,
      ...(configuration.length > 0 ? files.previousDialect : []),
    ]);
    const removed = [...configuration, ...state];
    if (removed.length > 0)
      log.info(
        { component: 'apply', event: 'absent-daemon-files-removed' satisfies LogEvent, files: removed, daemons },
        `removed ${removed.join(', ')} from ${configDir}: files of a daemon this BIRD does not run (it runs ${daemons.join(' and ')})`,
      );
    return true;
  } catch (error) {
    log.warn(
      { component: 'apply', event: 'absent-daemon-files-kept' satisfies LogEvent, err: error },
      `could not remove the files of a daemon this BIRD does not run: ${errorMessage(error)}; trying again next cycle`,
    );
    return false;
  }
}
