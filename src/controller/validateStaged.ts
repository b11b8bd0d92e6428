import { basename, join } from 'node:path';
import { validateBirdConfig } from '../bird/validateConfig.js';
import { entryAt, type EntrySpan } from '../render/fileSet.js';
import { DAEMONS, type Daemon } from '../model/daemon.js';
import type { ValidationFailure } from './validationFailure.js';

export interface BirdBinaries {
  readonly bird: string;
  readonly bird6: string;
}

export interface ValidateDaemonOptions {
  readonly binary: string;
  readonly spans: () => readonly EntrySpan[];
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** Runs `bird -p` (or `bird6 -p`) on one daemon's staged set; undefined when BIRD accepts it. */
export async function validateStagedDaemon(
  daemon: Daemon,
  stagedDir: string,
  options: ValidateDaemonOptions,
): Promise<ValidationFailure | undefined> {
  const result = await validateBirdConfig({
    binary: options.binary,
    configPath: join(stagedDir, `${daemon}.cfg`),
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
  if (result.ok) return undefined;
  // Staged paths are temporary: report the file by its name in the config dir.
  const file = result.file ? basename(result.file) : `${daemon}.cfg`;
  const span = result.line === undefined ? undefined : entryAt(options.spans(), file, result.line);
  return {
    daemon,
    file,
    line: result.line,
    column: result.column,
    message: result.message ?? result.raw,
    entryKey: span?.key,
    customFilter: span?.kind === 'custom-filter',
  };
}

/**
 * Both daemons' staged sets (in parallel), for the fuzz test and the benchmark; the first refusal, if any.
 * @internal the fuzz oracle and the anatomy benchmark.
 */
export async function validateStagedFileSet(
  stagedDir: string,
  spans: () => readonly EntrySpan[],
  binaries: BirdBinaries,
  signal?: AbortSignal,
): Promise<ValidationFailure | undefined> {
  const [v4, v6] = await Promise.all(
    DAEMONS.map((daemon) => validateStagedDaemon(daemon, stagedDir, { binary: binaries[daemon], spans, signal })),
  );
  return v4 ?? v6;
}
