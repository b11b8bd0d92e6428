#!/usr/bin/env node
// Generate a synthetic Calico v1 keyspace for a full node-to-node mesh of N hosts.
//
//   node scripts/gen-mesh-fixture.mjs N [--v6] > fixtures/<scenario>/etcd.json
//
// Hosts are named node-00001 .. node-NNNNN (zero-padded to 5 digits, wider when N > 99999).
// ip_addr_v4 counts up from 10.0.0.1; the last octet skips .0 and .255 (10.0.0.254 -> 10.0.1.1).
// With --v6, ip_addr_v6 is 2001:db8::<i in hex> (2001:db8::1, ... 2001:db8::3e8); without it, "" (as calicoctl wrote).
// Global: as_num 64511, node_mesh {"enabled":true}; one pool 192.168.0.0/16; one /26 block owned by node-00001.
// Output: a flat JSON object of string values, keys sorted, 2-space indent, trailing newline. Deterministic, no deps.

const USAGE = 'usage: node scripts/gen-mesh-fixture.mjs N [--v6]';

function fail(msg) {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let v6 = false;
let n;
for (const a of args) {
  if (a === '--v6') v6 = true;
  else if (a === '-h' || a === '--help') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  } else if (/^[1-9][0-9]*$/.test(a) && n === undefined) n = Number(a);
  else fail(`unexpected argument: ${JSON.stringify(a)}`);
}
if (n === undefined) fail('missing N');
const MAX = 256 * 256 * 254; // 10.0.0.0/8 with last octet in 1..254
if (!Number.isSafeInteger(n) || n > MAX) fail(`N must be between 1 and ${MAX}`);

function v4(i) {
  // i is 0-based
  const z = (i % 254) + 1;
  const rest = Math.floor(i / 254);
  const y = rest % 256;
  const x = Math.floor(rest / 256);
  return `10.${x}.${y}.${z}`;
}

const width = Math.max(5, String(n).length);
const kv = {};
kv['/calico/bgp/v1/global/as_num'] = '64511';
kv['/calico/bgp/v1/global/node_mesh'] = '{"enabled":true}';
kv['/calico/v1/ipam/v4/pool/192.168.0.0-16'] = JSON.stringify({ cidr: '192.168.0.0/16' });
for (let i = 0; i < n; i++) {
  const name = `node-${String(i + 1).padStart(width, '0')}`;
  const p = `/calico/bgp/v1/host/${name}/`;
  kv[p + 'ip_addr_v4'] = v4(i);
  kv[p + 'ip_addr_v6'] = v6 ? `2001:db8::${(i + 1).toString(16)}` : '';
}
kv[`/calico/ipam/v2/host/node-${'1'.padStart(width, '0')}/ipv4/block/192.168.0.0-26`] = '{}';

const sorted = {};
for (const k of Object.keys(kv).sort()) sorted[k] = kv[k];
process.stdout.write(JSON.stringify(sorted, null, 2) + '\n');
