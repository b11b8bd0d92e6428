import { basename, join } from 'node:path';
import { validateBirdConfig } from '../bird/validateConfig.js';
import type { CustomFilterSpan } from '../render/fileSet.js';

export interface BirdBinaries {
  readonly bird: string;
  readonly bird6: string;
}

/** BIRD refused the staged configuration: where, why, and which custom filter key when the error is in one. */
export interface ValidationFailure {
  readonly daemon: 'bird' | 'bird6';
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly message: string;
  readonly customFilterKey: string | undefined;
}

export function formatValidationFailure(failure: ValidationFailure): string {
  const where = failure.line === undefined ? failure.file : `${failure.file}:${failure.line}:${failure.column ?? 0}`;
  const key = failure.customFilterKey ? ` (custom filter ${failure.customFilterKey})` : '';
  return `${failure.daemon} -p rejected the configuration: ${where} ${failure.message}${key}`;
}

/** Runs `bird -p` and `bird6 -p` on the staged set (in parallel); undefined when both accept it. */
export async function validateStagedFileSet(
  stagedDir: string,
  spans: readonly CustomFilterSpan[],
  binaries: BirdBinaries,
  signal?: AbortSignal,
  daemons: ReadonlySet<'bird' | 'bird6'> = new Set(['bird', 'bird6']),
): Promise<ValidationFailure | undefined> {
  const check = async (daemon: 'bird' | 'bird6'): Promise<ValidationFailure | undefined> => {
    const result = await validateBirdConfig({ binary: binaries[daemon], configPath: join(stagedDir, `${daemon}.cfg`), signal });
    if (result.ok) return undefined;
    // Staged paths are temporary: report the file by its name in the config dir.
    const file = result.file ? basename(result.file) : `${daemon}.cfg`;
    // An unfinished last statement is reported on the line after it (the function's closing brace):
    // the error belongs to the nearest filter that starts at or before the error line.
    const line = result.line;
    const span =
      line === undefined
        ? undefined
        : spans.filter((s) => s.file === file && s.firstLine <= line).sort((a, b) => b.firstLine - a.firstLine)[0];
    return {
      daemon,
      file,
      line: result.line,
      column: result.column,
      message: result.message ?? result.raw,
      customFilterKey: span?.key,
    };
  };
  const skip = async (): Promise<undefined> => undefined;
  const [v4, v6] = await Promise.all([daemons.has('bird') ? check('bird') : skip(), daemons.has('bird6') ? check('bird6') : skip()]);
  return v4 ?? v6;
}
