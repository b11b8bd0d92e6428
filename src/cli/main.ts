#!/usr/bin/env node
import { runCli } from './program.js';

// Only commands that ask for it trap SIGTERM/SIGINT; one-shot commands keep the default (exit at once).
let shutdown: AbortController | undefined;
function shutdownSignal(): AbortSignal {
  if (!shutdown) {
    const controller = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => controller.abort(signal));
    shutdown = controller;
  }
  return shutdown.signal;
}

await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  shutdownSignal,
});
