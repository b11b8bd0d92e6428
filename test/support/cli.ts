import { runCli } from '../../src/cli/program.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with a captured context (no signal traps, no process.exit). */
export async function cli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  signal?: AbortSignal,
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  await runCli(args, {
    env,
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    setExitCode: (c) => {
      code = c;
    },
    shutdownSignal: () => signal ?? new AbortController().signal,
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}
