#!/usr/bin/env node

// grpc-js passes an etcd endpoint's IP address as the TLS server name, and Node then warns (DEP0123) on every
// https://<ip> endpoint: noise on stderr an operator can do nothing about. Every other warning still prints.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
const isDep0123 = (rest: readonly unknown[]): boolean =>
  rest.includes('DEP0123') ||
  (typeof rest[0] === 'object' && rest[0] !== null && (rest[0] as { code?: unknown }).code === 'DEP0123');
process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
  if (!isDep0123(rest)) emitWarning(warning, ...rest);
};

// Only commands that ask for it trap SIGTERM/SIGINT; one-shot commands keep the default (exit at once).
let shutdown: AbortController | undefined;
function shutdownSignal(): AbortSignal {
  if (!shutdown) {
    const controller = new AbortController();
    // `on`, not `once`: a second signal must not fall back to the default action (exit at once) while the current
    // cycle is still being wound up.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => controller.abort(signal));
    shutdown = controller;
  }
  return shutdown.signal;
}

/**
 * A closed pipe (`birdwatch node show | head -1`): stop writing to it. A one-shot command then exits quietly
 * with the exit code it has so far, as a reader that went away has all it wanted; `run` (which asked for
 * shutdownSignal) keeps routing, whoever reads its output.
 */
const closed = { stdout: false, stderr: false };
for (const name of ['stdout', 'stderr'] as const) {
  process[name].on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed[name] = true;
    if (shutdown === undefined) process.exit();
  });
}

const argv = process.argv.slice(2);
// `run` traps SIGTERM/SIGINT before loading the rest (most of its start-up): a stop during start-up then ends it as
// one later does (exit 0 within the bound, README "Reliability"), not by the default action.
if (argv[0] === 'run') shutdownSignal();
// `--version` alone needs nothing but the version: answered before commander (a tenth of the start-up) loads.
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { BIRDWATCH_VERSION } = await import('../observe/buildInfo.js');
  process.stdout.write(`${BIRDWATCH_VERSION}\n`);
  process.exit(0);
}
// `run` lives as long as the node, beside BIRD: V8 favours memory over speed there (smaller heap growth steps,
// more frequent full collections), which takes a third off its peak RSS (scripts/bench memory). Set here, at
// run time, because NODE_OPTIONS does not take the flag; `node --no-optimize-for-size …/main.js run` opts out.
// Set before anything loads: set later, the peak RSS stays high.
if (argv[0] === 'run' && !process.execArgv.some((flag) => /optimize[-_]for[-_]size/.test(flag))) {
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--optimize-for-size');
}
const { runCli } = await import('./program.js');

await runCli(argv, {
  env: process.env,
  stdout: (line) => {
    if (!closed.stdout) process.stdout.write(`${line}\n`);
  },
  stderr: (line) => {
    if (!closed.stderr) process.stderr.write(`${line}\n`);
  },
  setExitCode: (code) => {
    process.exitCode = code;
  },
  shutdownSignal,
});
