/**
 * Does the installed BIRD know Calico's `krt_tunnel` route attribute (Calico's BIRD fork does,
 * upstream BIRD 1.6.8 does not: "You may set only variables.")? Answered by running `bird -p` on a
 * tiny configuration in a temp dir. No caching here: the caller keeps the answer.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateBirdConfig, type BirdBinary } from './validateConfig.js';

export interface ProbeKrtTunnelOptions {
  readonly signal?: AbortSignal;
}

/**
 * The probe configuration: valid for bird and bird6 except for the krt_tunnel assignment.
 * @internal test/bird-validate.test.ts checks it with the real bird -p.
 */
export const KRT_TUNNEL_PROBE_CONFIG = [
  'router id 192.0.2.1;',
  'filter birdwatch_probe_krt_tunnel {',
  '  krt_tunnel = "tunl0";',
  '  accept;',
  '}',
  'protocol device {',
  '}',
  '',
].join('\n');

/**
 * True if `binary -p` accepts a filter that sets `krt_tunnel = "tunl0";`.
 * Throws BirdBinaryMissingError if the binary cannot be run.
 */
export async function probeKrtTunnel(binary: BirdBinary, options: ProbeKrtTunnelOptions = {}): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-probe-'));
  try {
    const configPath = join(dir, 'probe.cfg');
    await writeFile(configPath, KRT_TUNNEL_PROBE_CONFIG);
    const result = await validateBirdConfig({
      binary,
      configPath,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return result.ok;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
