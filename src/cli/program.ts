import { Command, CommanderError } from 'commander';
import { isApplyError, isConfigDirLockedError } from '../apply/errors.js';
import { isDatastoreError } from '../datastore/errors.js';
import { isNodeConfigError } from '../model/errors.js';
import { isTemplateError } from '../render/errors.js';
import { registerRender } from './commands/render.js';
import { registerRun } from './commands/run.js';
import { registerBgpCommands } from './commands/bgp.js';
import { registerBgpPeerCommands } from './commands/bgppeer.js';
import { registerConfigCommands } from './commands/config.js';
import { registerNodeCommands } from './commands/node.js';
import { registerPoolCommands } from './commands/pool.js';
import { registerStatusCommand } from './commands/status.js';
import type { CommandContext } from './context.js';
import { isUsageError } from './usageError.js';

export function buildProgram(context: CommandContext): Command {
  const program = new Command('birdwatch')
    .description('BGP routing controller for BIRD: Calico v1 keyspace in etcd → BIRD configuration')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.stdout(text.replace(/\n$/, '')),
      writeErr: (text) => context.stderr(text.replace(/\n$/, '')),
    });
  registerRender(program, context);
  registerRun(program, context);
  registerPoolCommands(program, context);
  registerBgpCommands(program, context);
  registerBgpPeerCommands(program, context);
  registerNodeCommands(program, context);
  registerConfigCommands(program, context);
  registerStatusCommand(program, context);
  return program;
}

/** Runs the CLI; maps each failure kind to one clear line and an exit code (2: usage, 1: failure). */
export async function runCli(argv: readonly string[], context: CommandContext): Promise<void> {
  const program = buildProgram(context);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      context.setExitCode(error.exitCode === 0 ? 0 : 2);
    } else if (isUsageError(error)) {
      context.stderr(`error: ${error.message}`);
      context.setExitCode(2);
    } else if (isNodeConfigError(error) || isDatastoreError(error) || isTemplateError(error) || isApplyError(error) || isConfigDirLockedError(error)) {
      context.stderr(`error: ${error.message}`);
      context.setExitCode(1);
    } else {
      context.stderr(`error: ${(error as Error).stack ?? String(error)}`);
      context.setExitCode(1);
    }
  }
}
