import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { ApplyError, ConfigDirLockedError } from '../apply/errors.js';
import { OpenFileLockError } from '../apply/openFileLock.js';
import { escapeControlCharacters } from '../model/controlCharacters.js';
import { DatastoreError } from '../datastore/errors.js';
import { NodeConfigError } from '../model/errors.js';
import { BIRDWATCH_VERSION } from '../observe/buildInfo.js';
import { TemplateError } from '../render/errors.js';
import type { CommandContext } from './context.js';
import { addExamples, EXIT_CODES_COMMON } from './helpText.js';
import { UsageError } from './usageError.js';

// commander is CommonJS: required, not imported, so Node does not lex it for its export names (README "Benchmarks").
const { Command, CommanderError } = createRequire(import.meta.url)('commander') as typeof Commander;
type Command = Commander.Command;

type Register = (program: Command, context: CommandContext) => void;

/**
 * The top-level commands, each with the module that defines it. Only the module of the command being run is
 * imported (`import()`): etcd3/grpc, pino, prom-client and handlebars cost most of a second to load, and
 * `--version`, `--help` or `status` need none of them. The others appear in the top-level help as stubs
 * with the same description (test/cli-help.test.ts checks they match the full definitions).
 * @internal test/cli-ux.test.ts checks this short list against the full definitions.
 */
export const TOP_LEVEL_COMMANDS: readonly {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Register>;
}[] = [
  {
    name: 'render',
    description:
      'render the BIRD configuration of one node into a directory and validate it with bird -p (--diff: compare with the live files, write nothing); `bird --version` picks BIRD 1.6 (bird.cfg + bird6.cfg) or BIRD 2/3 (one bird.cfg)',
    load: async () => (await import('./commands/render.js')).registerRender,
  },
  {
    name: 'run',
    description:
      'watch etcd and keep BIRD configured (the calico-node sidecar; replaces confd); `bird --version` picks BIRD 1.6 (bird + bird6) or BIRD 2/3 (one bird)',
    load: async () => (await import('./commands/run.js')).registerRun,
  },
  {
    name: 'pool',
    description: 'IP pools: the address ranges whose routes BGP exports (calicoctl pool)',
    load: async () => (await import('./commands/pool.js')).registerPoolCommands,
  },
  {
    name: 'bgp',
    description: 'cluster-wide BGP settings (calicoctl bgp)',
    load: async () => (await import('./commands/bgp.js')).registerBgpCommands,
  },
  {
    name: 'bgppeer',
    description: 'route reflectors (calicoctl bgppeer)',
    load: async () => (await import('./commands/bgppeer.js')).registerBgpPeerCommands,
  },
  {
    name: 'node',
    description: "nodes' BGP registration: addresses and AS (calicoctl node)",
    load: async () => (await import('./commands/node.js')).registerNodeCommands,
  },
  {
    name: 'config',
    description: 'BIRD settings (calicoctl config)',
    load: async () => (await import('./commands/config.js')).registerConfigCommands,
  },
  {
    name: 'status',
    description:
      "BGP sessions of this node's BIRD, per address family (like calicoctl status); BIRD 2/3 answer both on bird's socket",
    load: async () => (await import('./commands/status.js')).registerStatusCommand,
  },
  {
    name: 'check',
    description: 'probe the running birdwatch: ready or live (for exec probes; exit 0 or 1 with one line why)',
    load: async () => (await import('./commands/check.js')).registerCheckCommand,
  },
  {
    name: 'diags',
    description:
      'collect diagnostics into one tar.gz (config, BIRD state, run status, logs, etcd keys; secrets redacted)',
    load: async () => (await import('./commands/diags.js')).registerDiagsCommand,
  },
  {
    name: 'undo',
    description: 'revert BIRD to its previous configuration (configure undo) and put back the files it ran',
    load: async () => (await import('./commands/undo.js')).registerUndoCommand,
  },
  {
    name: 'completion',
    description: 'print a bash or zsh completion script',
    load: async () => (await import('./commands/completion.js')).registerCompletionCommand,
  },
];

/**
 * The top-level command argv asks for (`help X` asks for X), if it names one.
 * @internal test/cli-ux.test.ts drives it with each argv form.
 */
export function requestedCommand(argv: readonly string[]): string | undefined {
  const operands = argv.filter((a) => !a.startsWith('-'));
  const first = operands[0] === 'help' ? operands[1] : operands[0];
  return TOP_LEVEL_COMMANDS.some((c) => c.name === first) ? first : undefined;
}

function newProgram(context: CommandContext): Command {
  const program = new Command('birdwatch')
    .description('BGP routing controller for BIRD: Calico v1 keyspace in etcd → BIRD configuration')
    .version(BIRDWATCH_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.stdout(text.replace(/\n$/, '')),
      writeErr: (text) => context.stderr(text.replace(/\n$/, '')),
    });
  addExamples(
    program,
    [
      'birdwatch run --node calico-01',
      'birdwatch status',
      'birdwatch pool show',
      'birdwatch check ready',
      'birdwatch <command> --help',
    ],
    EXIT_CODES_COMMON,
  );
  return program;
}

/**
 * The command tree with `which` fully defined (every command when `which` is 'all', e.g. for completion)
 * and the other top-level commands as description-only stubs.
 */
export async function buildProgram(context: CommandContext, which: string | 'all' | undefined): Promise<Command> {
  const program = newProgram(context);
  for (const command of TOP_LEVEL_COMMANDS) {
    if (which === 'all' || which === command.name) (await command.load())(program, context);
    else program.command(command.name).description(command.description);
  }
  return program;
}

/** Runs the CLI; maps each failure kind to one clear line and an exit code (2: usage, 1: failure). */
export async function runCli(argv: readonly string[], context: CommandContext): Promise<void> {
  try {
    const program = await buildProgram(context, requestedCommand(argv));
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      context.setExitCode(error.exitCode === 0 ? 0 : 2);
    } else if (error instanceof UsageError) {
      context.stderr(`error: ${error.message}`);
      context.setExitCode(2);
    } else if (
      error instanceof NodeConfigError ||
      error instanceof DatastoreError ||
      error instanceof TemplateError ||
      error instanceof ApplyError ||
      error instanceof ConfigDirLockedError ||
      error instanceof OpenFileLockError
    ) {
      // The model's and the datastore's messages quote keys and values: one line each, whatever they hold.
      const fromData = error instanceof NodeConfigError || error instanceof DatastoreError;
      context.stderr(`error: ${fromData ? escapeControlCharacters(error.message) : error.message}`);
      context.setExitCode(1);
    } else {
      context.stderr(`error: ${(error instanceof Error ? error.stack : undefined) ?? String(error)}`);
      context.setExitCode(1);
    }
  }
}
