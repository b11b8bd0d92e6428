// The address-class sweep behind src/model/address.ts (unusableBgpAddressReason): prints, for each sample
// class, what the real `bird -p` / `bird6 -p` say with the address as neighbor, source address and router id,
// and what `rr cluster id` values they take. With --tcp (root: network namespaces) it also tries a TCP
// connection to each sample address across a veth pair (loopback: inside one namespace), to tell the classes
// BIRD accepts but no BGP session can reach. test/address-classes.test.ts checks the bird -p part on every run.
//   node --import tsx scripts/sweep-addresses.ts [--tcp]
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { parseBgpAddress, parseIpAddress, formatIPv4, formatIPv6 } from '../src/model/address.js';
import { parseClusterId } from '../src/model/encodings.js';
import {
  ADDRESS_SAMPLES,
  birdVerdict,
  CLUSTER_ID_SAMPLES,
  clusterIdConfig,
  rolesOf,
  sweepConfig,
  type AddressSample,
} from '../test/support/addressSweep.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function tcpVerdict(sample: AddressSample): Promise<string> {
  const parsed = parseIpAddress(sample.text, sample.family);
  if (!parsed.ok) return 'not an address';
  const loopback = sample.family === 4 ? parsed.value.value >> 24n === 127n : parsed.value.value === 1n;
  // The two ends share a /31 (/127): no subnet broadcast address, so x.y.z.255 samples are plain unicast; next
  // to 255.255.255.254 the /31 partner would be the broadcast address, so that one takes a /30 with .253.
  const besideBroadcast = sample.family === 4 && (parsed.value.value ^ 1n) === 0xffffffffn;
  const other = besideBroadcast ? parsed.value.value - 1n : parsed.value.value ^ 1n;
  const local = sample.family === 4 ? formatIPv4(other) : formatIPv6(other);
  const length = sample.family === 4 ? (besideBroadcast ? 30 : 31) : 127;
  const tag = randomBytes(3).toString('hex');
  const [a, b] = [`bwsweep-a-${tag}`, `bwsweep-b-${tag}`];
  const ip = (...args: string[]): Promise<{ exitCode?: number | undefined; stderr: string }> =>
    execa('ip', args, { reject: false });
  try {
    await ip('netns', 'add', a);
    await ip('-n', a, 'link', 'set', 'lo', 'up');
    let server = a;
    if (!loopback) {
      await ip('netns', 'add', b);
      await ip('-n', b, 'link', 'set', 'lo', 'up');
      await ip('link', 'add', 'va', 'netns', a, 'type', 'veth', 'peer', 'name', 'vb', 'netns', b);
      await ip('-n', a, 'link', 'set', 'va', 'up');
      await ip('-n', b, 'link', 'set', 'vb', 'up');
      const flag = sample.family === 6 ? ['-6'] : [];
      const extra = sample.family === 6 ? ['nodad'] : [];
      const assignB = await ip('-n', b, ...flag, 'addr', 'add', `${sample.text}/${length}`, 'dev', 'vb', ...extra);
      if (assignB.exitCode !== 0) return `cannot be an interface address: ${assignB.stderr.trim()}`;
      const assignA = await ip('-n', a, ...flag, 'addr', 'add', `${local}/${length}`, 'dev', 'va', ...extra);
      if (assignA.exitCode !== 0)
        return `the neighbouring address ${local} cannot be assigned: ${assignA.stderr.trim()}`;
      server = b;
    }
    const script = [
      "const net = require('node:net');",
      `const host = ${JSON.stringify(sample.text)};`,
      `const s = net.createServer((c) => c.end('ok')).on('error', (e) => { console.log('listen: ' + e.code); process.exit(); });`,
      `s.listen(1790, host, () => console.log('listening'));`,
      'setTimeout(() => process.exit(), 4000);',
    ].join('\n');
    const listener = execa('ip', ['netns', 'exec', server, process.execPath, '-e', script], { reject: false });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const client = [
      "const net = require('node:net');",
      `const c = net.connect({ port: 1790, host: ${JSON.stringify(sample.text)} });`,
      "c.setTimeout(2000, () => { console.log('timeout'); process.exit(); });",
      "c.on('data', () => { console.log('connected'); process.exit(); });",
      "c.on('error', (e) => { console.log('connect: ' + e.code); process.exit(); });",
    ].join('\n');
    const result = await execa('ip', ['netns', 'exec', a, process.execPath, '-e', client], { reject: false });
    const served = await listener;
    const listenError = served.stdout.split('\n').find((l) => l.startsWith('listen:'));
    return listenError ?? result.stdout.trim();
  } finally {
    await ip('netns', 'delete', a);
    await ip('netns', 'delete', b);
  }
}

const tcp = process.argv.includes('--tcp');
out(
  `BIRD: ${(await execa('bird', ['--version'], { reject: false })).stderr.trim()}; kernel ${(await execa('uname', ['-r'])).stdout.trim()}`,
);
out('');
out(`| address | class | bird -p refuses it as | TCP${tcp ? '' : ' (--tcp)'} | model |`);
out('|---|---|---|---|---|');
for (const sample of ADDRESS_SAMPLES) {
  const refused: string[] = [];
  for (const role of rolesOf(sample)) {
    const verdict = await birdVerdict(sample.family, sweepConfig(sample.family, role, sample.text));
    if (verdict !== undefined) refused.push(`${role} ("${verdict}")`);
  }
  const model = parseBgpAddress(sample.text, sample.family);
  const connection = tcp ? await tcpVerdict(sample) : '';
  out(
    `| ${sample.text} | ${sample.addressClass} | ${refused.join('; ') || '—'} | ${connection} | ${model.ok ? 'kept' : 'refused'} |`,
  );
}
out('');
out('| rr cluster id | bird -p | bird6 -p | model |');
out('|---|---|---|---|');
for (const sample of CLUSTER_ID_SAMPLES) {
  const v4 = await birdVerdict(4, clusterIdConfig(4, sample.text));
  const v6 = await birdVerdict(6, clusterIdConfig(6, sample.text));
  const model = parseClusterId(sample.text);
  out(
    `| ${sample.text} | ${v4 ?? 'accepted'} | ${v6 ?? 'accepted'} | ${model.ok ? `rr cluster id ${model.value}` : `dropped: ${model.reason}`} |`,
  );
}
