import type { Command } from 'commander';
import { readGuardMarker, removeGuardMarker } from '../../controller/guard/marker.js';
import { readPreviousFiles, removePreviousFiles } from '../../controller/guard/undoRecord.js';
import { writeFilesDurably } from '../../apply/swapFileSet.js';
import { answeringBird } from '../../bird/answeringBird.js';
import { undoConfigure } from '../../bird/configureGuarded.js';
import { DAEMONS, type Daemon } from '../../model/daemon.js';
import { errorMessage } from '../../errorMessage.js';
import type { CommandContext } from '../context.js';
import { parseDuration } from '../duration.js';
import { addExamples } from '../helpText.js';
import { UsageError } from '../usageError.js';

interface UndoFlags {
  readonly configDir: string;
  readonly birdSocket: string;
  readonly bird6Socket: string;
  readonly timeout: string;
}

/**
 * `birdwatch undo [bird|bird6]`: the human in the loop's revert. Sends `configure undo` (BIRD goes back to the
 * configuration it ran before its last `configure`), then puts back the files that configuration came from —
 * those recorded by a settle window in progress, else by the last reload `run` made — so disk and BIRD agree.
 * BIRD 2/3 (bird's greeting says which) have no bird6: `undo` is bird's alone.
 */
export function registerUndoCommand(program: Command, context: CommandContext): void {
  addExamples(
    program.command('undo [daemon]'),
    [
      'birdwatch undo            # every daemon (BIRD 1.6: bird and bird6; BIRD 2/3: bird)',
      'birdwatch undo bird6 --config-dir /etc/calico/confd/config',
    ],
    {
      0: 'every daemon asked was reverted, or had nothing to undo',
      1: 'a daemon could not be reached, refused, or its files could not be put back',
      2: 'usage: a bad daemon name or option',
    },
  )
    .description('revert BIRD to its previous configuration (configure undo) and put back the files it ran')
    .option(
      '--config-dir <dir>',
      'where bird.cfg (BIRD 1.6: and bird6.cfg) and their includes live',
      '/etc/calico/confd/config',
    )
    .option('--bird-socket <path>', "bird's control socket", '/var/run/calico/bird.ctl')
    .option('--bird6-socket <path>', "bird6's control socket (BIRD 1.6 only)", '/var/run/calico/bird6.ctl')
    .option('--timeout <duration>', 'time allowed for each daemon to answer (5s, 500ms)', '30s')
    .action(async (daemon: string | undefined, flags: UndoFlags) => {
      if (daemon !== undefined && !DAEMONS.includes(daemon as Daemon))
        throw new UsageError('daemon', daemon, 'expected bird or bird6 (none: both)');
      const timeoutMs = parseDuration('--timeout', flags.timeout, { minMs: 1, maxMs: 600_000 });
      const sockets: Record<Daemon, string> = { bird: flags.birdSocket, bird6: flags.bird6Socket };
      const bird = await answeringBird(flags.birdSocket, { timeoutMs });
      if (daemon !== undefined && !bird.daemons.includes(daemon as Daemon))
        throw new UsageError(
          'daemon',
          daemon,
          `BIRD ${bird.version?.text ?? ''} at ${flags.birdSocket} serves both families: there is no ${daemon} (birdwatch undo bird)`,
        );
      const daemons = daemon === undefined ? bird.daemons : [daemon as Daemon];
      for (const d of daemons) {
        const marker = await readGuardMarker(flags.configDir, d);
        const previous = marker?.previous ?? (await readPreviousFiles(flags.configDir, d));
        let undo;
        try {
          undo = await undoConfigure(sockets[d], { timeoutMs });
        } catch (error) {
          context.stderr(`error: ${d}: ${errorMessage(error)}`);
          context.setExitCode(1);
          continue;
        }
        if (undo.outcome === 'refused') {
          context.stderr(`error: ${d} refused configure undo: ${undo.message}`);
          context.setExitCode(1);
          continue;
        }
        if (undo.outcome === 'nothing-to-do') {
          context.stdout(`${d}: nothing to undo (${undo.message}); files left as they are`);
          continue;
        }
        if (previous === undefined || Object.keys(previous).length === 0) {
          context.stdout(`${d}: reverted (${undo.message}); no previous files recorded in ${flags.configDir}`);
          continue;
        }
        try {
          await writeFilesDurably(flags.configDir, new Map(Object.entries(previous)));
          await removeGuardMarker(flags.configDir, d);
          await removePreviousFiles(flags.configDir, d);
          context.stdout(`${d}: reverted (${undo.message}); put back ${Object.keys(previous).sort().join(', ')}`);
        } catch (error) {
          context.stderr(`error: ${d} reverted but its previous files could not be put back: ${errorMessage(error)}`);
          context.setExitCode(1);
        }
      }
    });
}
