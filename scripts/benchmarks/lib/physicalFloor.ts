/**
 * The physical floor (physical-floor.c): one round of etcd put → watch event, `bird -p`, `configure` and the
 * protocol polled, with no Node in it. Compiled here with the system's C compiler (cached by the source's hash);
 * where there is none, the bench says so and reports the Node-side floor alone.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import type { FloorRound } from './floor.js';
import { ROOT } from './paths.js';
import type { Scope } from './scope.js';

const SOURCE = join(ROOT, 'scripts', 'benchmarks', 'lib', 'physical-floor.c');

/** The compiled program, or why there is none. */
export async function physicalFloorBinary(): Promise<{ path: string } | { missing: string }> {
  const source = await readFile(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'birdwatch-bench');
  const path = join(dir, `physical-floor-${hash}`);
  try {
    await access(path);
    return { path };
  } catch {
    // not built yet
  }
  await mkdir(dir, { recursive: true });
  try {
    await execa('cc', ['-O2', '-o', path, SOURCE]);
    return { path };
  } catch (error) {
    return {
      missing: `no C compiler to build scripts/benchmarks/lib/physical-floor.c (${(error as Error).message.split('\n')[0]})`,
    };
  }
}

export interface PhysicalFloor {
  round(key: string, protocol: string, configPath: string): Promise<FloorRound>;
}

/**
 * Starts the program against etcd at `endpoint` (http://host:port) and BIRD's control socket; its etcdctl watch
 * covers `prefix`. Stopped with the scope.
 */
export async function startPhysicalFloor(
  scope: Scope,
  binary: string,
  endpoint: string,
  prefix: string,
  controlSocket: string,
  /** The bird binary its `bird -p` runs (the BIRD under test). */
  birdBinary = 'bird',
): Promise<PhysicalFloor> {
  const url = new URL(endpoint);
  const child: ChildProcessWithoutNullStreams = spawn(
    binary,
    ['etcdctl', url.hostname, url.port, prefix, birdBinary, controlSocket],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  scope.teardown(async () => {
    child.stdin.end();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (what: string): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`physical floor: ended while ${what}`);
    if (line.value.startsWith('error ')) throw new Error(`physical floor: ${line.value.slice(6)}`);
    return line.value;
  };
  const first = await next('starting');
  if (first !== 'ready') throw new Error(`physical floor: unexpected ${JSON.stringify(first)}`);
  return {
    async round(key, protocol, configPath) {
      child.stdin.write(`${key} ${protocol} ${configPath}\n`);
      const fields = (await next(`waiting for ${protocol}`)).split(' ');
      const [etcdMs, birdParseMs, configureMs, visibleMs, totalMs] = fields.slice(1).map(Number) as [
        number,
        number,
        number,
        number,
        number,
      ];
      return { etcdMs, birdParseMs, configureMs, visibleMs, totalMs };
    },
  };
}
