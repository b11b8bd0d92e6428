/**
 * Asks a BIRD binary which version it is (`<bird> --version`, answered on stderr) and so which dialect to render
 * (birdVersion.ts). Never by the file name: every major installs its daemon as `bird`. No caching here: the caller
 * keeps the answer.
 */
import { execFile } from 'node:child_process';
import { parseBirdVersionOutput, type BirdVersion } from './birdVersion.js';
import { BirdBinaryMissingError, BirdVersionError } from './errors.js';

export interface DetectBirdVersionOptions {
  readonly signal?: AbortSignal;
  /** Default 10 s: `--version` answers at once; this only trips on a hung or starved process. */
  readonly timeoutMs?: number;
}

/**
 * Runs `<binary> --version`. Throws BirdBinaryMissingError when it cannot be started, BirdVersionError when it
 * fails or its answer is not a BIRD version birdwatch speaks.
 */
export async function detectBirdVersion(binary: string, options: DetectBirdVersionOptions = {}): Promise<BirdVersion> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      binary,
      ['--version'],
      {
        timeout: options.timeoutMs ?? 10_000,
        maxBuffer: 64 * 1024,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (error, stdout, stderr) => {
        const code = (error as NodeJS.ErrnoException | null)?.code;
        if (code === 'ENOENT' || code === 'EACCES')
          reject(
            new BirdBinaryMissingError(binary, `cannot run BIRD binary ${JSON.stringify(binary)}: ${code}`, {
              cause: error,
            }),
          );
        else if (error && options.signal?.aborted) reject(options.signal.reason);
        else if (error && !`${stderr}${stdout}`.includes('BIRD version'))
          reject(new BirdVersionError(binary, `${binary} --version failed: ${error.message}`, { cause: error }));
        else resolve(`${stderr}\n${stdout}`);
      },
    );
  });
  const parsed = parseBirdVersionOutput(output);
  if (!parsed.ok) throw new BirdVersionError(binary, `${binary} --version: ${parsed.reason}`);
  return parsed.value;
}
