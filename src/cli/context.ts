import type { HostAddresses } from './addressAutodetection.js';

/** What a command may touch of the process: injected so commands run in-process in tests. */
export interface CommandContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The host's interfaces and routes, for IP=autodetect (default: the running system's). */
  readonly hostAddresses?: HostAddresses;
  stdout(line: string): void;
  stderr(line: string): void;
  setExitCode(code: number): void;
  /** For long-running commands: aborted when the process is asked to stop (SIGTERM/SIGINT). */
  shutdownSignal(): AbortSignal;
}
