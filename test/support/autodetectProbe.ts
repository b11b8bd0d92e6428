/**
 * Runs address autodetection with the real system source in whatever network namespace it is started in
 * (`ip netns exec NS node --import tsx autodetectProbe.ts '<cases JSON>'`) and prints one JSON result per case.
 * Cases: [{ "family": 4, "method": "interface=^ens" }, …].
 */
import {
  autodetectAddress,
  parseAutodetectionMethod,
  systemHostAddresses,
} from '../../src/cli/addressAutodetection.js';

interface ProbeCase {
  readonly family: 4 | 6;
  readonly method: string;
}

const cases = JSON.parse(process.argv[2] ?? '[]') as ProbeCase[];
const results = [];
for (const c of cases) {
  try {
    const found = await autodetectAddress(parseAutodetectionMethod('METHOD', c.method), c.family, systemHostAddresses);
    results.push({ ...c, address: found.address.text, source: found.source, prefixLength: found.prefixLength ?? null });
  } catch (error) {
    results.push({ ...c, error: (error as Error).message });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
