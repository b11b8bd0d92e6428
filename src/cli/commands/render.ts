import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { diffAgainstLive, type LiveDiff } from '../../controller/diffLive.js';
import { formatProtocolChanges, formatSharedChange, hasBgpChanges } from '../../controller/diffSummary.js';
import { classifyDaemonChange, formatApplyPathForDiff } from '../../controller/guard/applyPath.js';
import { renderOnce } from '../../controller/oneShot.js';
import { realPipelineEdges } from '../../controller/realEdges.js';
import { loadTemplateSources } from '../../render/templateSources.js';
import { BIRD_VERSION_OPTION } from '../../bird/birdVersion.js';
import { MAIN_FILE } from '../../model/daemon.js';
import { formatDiagnostic, type Diagnostic } from '../../model/diagnostics.js';
import { lockConfigDir } from '../../apply/configDirLock.js';
import { compileTemplateSet } from '../../render/templateSet.js';
import { addEtcdOptions, parseDatastore, resolveEtcdOptions, type EtcdFlags } from '../commonOptions.js';
import { addBirdOptions, resolveBird, type BirdChoice, type BirdFlags } from '../birdOptions.js';
import { addRoleOptions, resolveRole, type RoleFlags } from '../roleOptions.js';
import { loadSnapshot } from '../loadSnapshot.js';
import type { CommandContext } from '../context.js';
import { addExamples } from '../helpText.js';
import { UsageError } from '../usageError.js';

interface RenderFlags extends EtcdFlags, RoleFlags, BirdFlags {
  readonly out?: string;
  readonly diff?: boolean;
  readonly configDir?: string;
  readonly datastore: string;
  readonly templates?: string;
  readonly validate: boolean;
}

/** `render --diff` found differences (0: none, 1: failure, 2: usage). */
export const EXIT_DIFFERENCES = 3;

function printRenderWarnings(
  context: CommandContext,
  diagnostics: readonly Diagnostic[],
  ipipPools: number,
  bird: BirdChoice,
): void {
  for (const diagnostic of diagnostics) context.stderr(`warning: ${formatDiagnostic(diagnostic)}`);
  if (bird.ipipFellBack && ipipPools > 0) {
    context.stderr(
      'warning: this bird does not support krt_tunnel: IPIP pools are exported and routed natively (--ipip off)',
    );
  }
}

type RenderMode =
  { readonly kind: 'write'; readonly out: string } | { readonly kind: 'diff'; readonly configDir: string };

/** `--out DIR` writes; `--diff --config-dir DIR` compares and writes nothing. */
function renderMode(flags: RenderFlags): RenderMode {
  if (flags.diff === true) {
    if (flags.configDir === undefined)
      throw new UsageError('--config-dir', undefined, '--diff needs the live configuration directory to compare with');
    if (flags.out !== undefined)
      throw new UsageError('--out', flags.out, '--diff writes nothing (give the live directory as --config-dir)');
    return { kind: 'diff', configDir: flags.configDir };
  }
  if (flags.configDir !== undefined) throw new UsageError('--config-dir', flags.configDir, 'only used with --diff');
  if (flags.out === undefined)
    throw new UsageError(
      '--out',
      undefined,
      "required option '--out <dir>' not specified (or --diff --config-dir DIR for a dry run)",
    );
  return { kind: 'write', out: flags.out };
}

/** The dry run's report: unified diffs, then what each daemon's sessions would see. */
function printLiveDiff(context: CommandContext, diff: LiveDiff, configDir: string): void {
  for (const file of diff.files) context.stdout(file.patch.replace(/\n$/, ''));
  for (const change of diff.change?.daemons ?? []) {
    const label = `${change.daemon}:`.padEnd(7);
    if (!hasBgpChanges(change)) {
      context.stdout(`${label}no BGP changes`);
      continue;
    }
    if (change.initial) context.stdout(`${label}new configuration (no ${MAIN_FILE[change.daemon]} in ${configDir})`);
    const protocols = formatProtocolChanges(change);
    if (protocols !== '') context.stdout(`${label}${protocols}`);
    const shared = formatSharedChange(change);
    if (shared !== undefined) context.stdout(`${label}${shared}`);
    context.stdout(`${label}${formatApplyPathForDiff(classifyDaemonChange(change))}`);
  }
  const count = diff.files.length;
  context.stdout(
    count === 0
      ? `no changes: ${configDir} is up to date`
      : `${count} file${count === 1 ? '' : 's'} would change in ${configDir} (nothing was written)`,
  );
}

export function registerRender(program: Command, context: CommandContext): void {
  const command = addExamples(
    addRoleOptions(addEtcdOptions(program.command('render'))),
    [
      'birdwatch render --node calico-01 --out /tmp/bird',
      'birdwatch render --diff --config-dir /etc/calico/confd/config --node calico-01',
      'birdwatch render --datastore file:keyspace.json --node calico-01 --out /tmp/bird --no-validate',
      'birdwatch render --node calico-01 --out /tmp/bird --no-validate --bird-version 2.0.12   # for a BIRD not here',
      'birdwatch render --role route-reflector --ip 10.0.0.100 --out /tmp/rr',
    ],
    {
      0: 'success (--diff: no differences)',
      1: 'failure: etcd unreadable, or bird -p refused the rendering (nothing was written)',
      2: 'usage: a bad argument, option or environment variable',
      3: '--diff: the live files differ from the rendering',
    },
  )
    .description(
      'render the BIRD configuration of one node into a directory and validate it with bird -p (--diff: compare with the live files, write nothing); `bird --version` picks BIRD 1.6 (bird.cfg + bird6.cfg) or BIRD 2/3 (one bird.cfg)',
    )
    .option('--out <dir>', 'directory to write bird.cfg (BIRD 1.6: and bird6.cfg) and their includes into')
    .option(
      '--diff',
      'dry run: print a unified diff against --config-dir and what it does to BGP sessions; exit 0 no changes, 3 changes',
    )
    .option('--config-dir <dir>', 'the live configuration directory --diff compares with')
    .option('--datastore <source>', 'etcd, or file:PATH (a JSON object of key → value)', 'etcd')
    .option('--templates <dir>', 'override templates file by file')
    .option('--no-validate', 'write without running bird -p (BIRD 1.6: bird -p and bird6 -p)');
  addBirdOptions(command, 'for bird -p').action(async (flags: RenderFlags) => {
    const mode = renderMode(flags);
    const datastore = parseDatastore(flags.datastore);
    const bird = await resolveBird(flags, flags.validate);
    const role = resolveRole(flags, context.env, bird.ipip, bird.version);
    const snapshot = await loadSnapshot(datastore, () => resolveEtcdOptions(flags, context.env), role.scope);
    const templates = compileTemplateSet(await loadTemplateSources(flags.templates), role.layout);
    // A dry run drives files and bird -p only: it has no control socket to reload anything with.
    const edges = realPipelineEdges({ binaries: bird.binaries });
    const validate = flags.validate;
    if (mode.kind === 'diff') {
      const diff = await diffAgainstLive({ snapshot, role, configDir: mode.configDir, templates, edges, validate });
      const { rendered, diagnostics, failures } = diff.cycle;
      if (rendered) printRenderWarnings(context, diagnostics, rendered.ipipPools, bird);
      if (failures[0]) {
        context.stderr(`error: ${failures[0].message}`);
        context.stderr('this configuration would be refused: run would keep the live one');
        context.setExitCode(1);
        return;
      }
      printLiveDiff(context, diff, mode.configDir);
      if (diff.files.length > 0) context.setExitCode(EXIT_DIFFERENCES);
      return;
    }
    const out = mode.out;
    // The same owner rule as run: never write into a directory a running birdwatch is applying.
    // (A directory that does not exist yet has no owner, and is not created before the render succeeds.)
    const lock = existsSync(out) ? await lockConfigDir(out, `birdwatch render --out (pid ${process.pid})`) : undefined;
    try {
      const result = await renderOnce({ snapshot, role, dir: out, templates, edges, validate, mode: 'write' });
      if (result.rendered) {
        printRenderWarnings(context, result.diagnostics, result.rendered.ipipPools, bird);
        for (const line of result.rendered.summary) context.stdout(line);
      }
      const written = result.daemons.flatMap((d) => d.written);
      if (result.failures[0]) {
        context.stderr(`error: ${result.failures[0].message}`);
        context.stderr(
          written.length === 0 ? `nothing was written to ${out}` : `only ${written.join(', ')} were written to ${out}`,
        );
        context.setExitCode(1);
        return;
      }
      const validated = flags.validate
        ? `validated by ${role.daemons.map((d) => `${d} -p`).join(' and ')}`
        : 'not validated (--no-validate)';
      const forBird = `for BIRD ${bird.version.text}${bird.source === 'option' ? ` (${BIRD_VERSION_OPTION})` : ''}`;
      context.stdout(`wrote ${out} (${written.length} files changed, ${forBird}, ${validated})`);
    } finally {
      await lock?.release();
    }
  });
}
