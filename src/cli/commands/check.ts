import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { parseDuration } from '../duration.js';
import { addExamples } from '../helpText.js';
import { DEFAULT_LISTEN, parseListenOption } from '../listenOption.js';
import { fetchOps, opsTarget, type OpsAnswer } from '../opsClient.js';
import { UsageError } from '../usageError.js';

interface CheckFlags {
  readonly listen: string;
  readonly timeout: string;
}

const PROBES = { ready: '/readyz', live: '/healthz' } as const;
type Probe = keyof typeof PROBES;

interface ReadyBody {
  readonly status?: string;
  readonly failing?: readonly { readonly condition?: string; readonly message?: string }[];
  readonly checks?: Readonly<Record<string, { readonly ok?: boolean; readonly message?: string }>>;
}

interface LiveBody {
  readonly status?: string;
  readonly heartbeatAgeSeconds?: number;
  readonly message?: string;
}

/** The one line a probe prints, from the daemon's own answer (so it says what /readyz and /healthz say). */
export function probeLine(probe: Probe, answer: OpsAnswer): { ok: boolean; line: string } {
  const ok = answer.statusCode === 200;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return {
      ok: false,
      line: `${probe === 'ready' ? 'not ready' : 'not live'}: unexpected answer from ${answer.url} (HTTP ${answer.statusCode}, not JSON)`,
    };
  }
  if (probe === 'ready') {
    const ready = body as ReadyBody;
    if (ok)
      return {
        ok,
        line: `ready: ${Object.values(ready.checks ?? {})
          .map((c) => c.message)
          .join('; ')}`,
      };
    const failing = (ready.failing ?? []).map((f) => f.message ?? f.condition).join('; ');
    return { ok, line: `not ready: ${failing || `HTTP ${answer.statusCode}`}` };
  }
  const live = body as LiveBody;
  if (ok) return { ok, line: `live: the control loop ticked ${live.heartbeatAgeSeconds ?? '?'} s ago` };
  return { ok, line: `not live: ${live.message ?? `HTTP ${answer.statusCode}`}` };
}

/**
 * `check ready|live`: an exec probe (as calico-node's `-bird-ready`/`-bird-live`). It asks the running
 * `birdwatch run` on its ops endpoint (GET /readyz or /healthz) rather than judging on its own, so the probe
 * and the endpoint share one status model (datastore synced, configuration applied, both BIRDs answering;
 * the control loop's heartbeat). Exit 0 or 1, one line why.
 */
export function registerCheckCommand(program: Command, context: CommandContext): void {
  addExamples(
    program
      .command('check')
      .argument('<probe>', 'ready (synced, applied, both BIRDs answer) or live (the control loop ticks)')
      .description('probe the running birdwatch: ready or live (for exec probes; exit 0 or 1 with one line why)')
      .option(
        '--listen <host:port>',
        `the ops address \`run\` listens on (:PORT and 0.0.0.0/:: are asked on loopback)`,
        DEFAULT_LISTEN,
      )
      .option('--timeout <duration>', 'time allowed for the answer', '3s'),
    [
      'birdwatch check ready',
      'birdwatch check live --listen 127.0.0.1:9098',
      'birdwatch check ready --listen :9098 --timeout 1s',
    ],
    {
      0: 'ready (live)',
      1: 'not ready (not live), or birdwatch does not answer on the address',
      2: 'usage: a bad argument or option',
    },
  ).action(async (probeText: string, flags: CheckFlags) => {
    if (probeText !== 'ready' && probeText !== 'live')
      throw new UsageError('probe', probeText, 'expected ready or live');
    const probe: Probe = probeText;
    const listen = parseListenOption(flags.listen);
    if (listen.kind === 'off')
      throw new UsageError('--listen', flags.listen, 'the probe needs the address `run` listens on');
    const timeoutMs = parseDuration('--timeout', flags.timeout, { minMs: 1, maxMs: 600_000 });
    const target = opsTarget(listen.host, listen.port);
    const answer = await fetchOps(target, PROBES[probe], timeoutMs);
    if (!answer.ok) {
      context.stderr(`${probe === 'ready' ? 'not ready' : 'not live'}: ${answer.error}`);
      context.setExitCode(1);
      return;
    }
    const result = probeLine(probe, answer.value);
    if (result.ok) context.stdout(result.line);
    else {
      context.stderr(result.line);
      context.setExitCode(1);
    }
  });
}
