import { execa } from 'execa';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../test/harness/etcd.js';
const etcd = await startEtcd({ members: 3 });
const w = new Etcd3({ hosts: [...etcd.endpoints] });
await w.put('/calico/bgp/v1/host/n1/ip_addr_v4').value('10.0.0.1');
const child = execa(
  process.execPath,
  [
    'dist/cli/main.js',
    'run',
    '--node',
    'n1',
    '--etcd-endpoints',
    etcd.endpoints.join(','),
    '--config-dir',
    '/tmp/zzc',
    '--bird-socket',
    '/tmp/zz.ctl',
    '--bird6-socket',
    '/tmp/zz6.ctl',
    '--ipip',
    'off',
    '--listen',
    'off',
  ],
  { reject: false, all: true, buffer: true },
);
await new Promise((r) => setTimeout(r, 3000));
for (let round = 0; round < 3; round++) {
  const leader = await etcd.waitForLeader();
  console.log('round', round, 'kill leader m' + leader);
  await etcd.kill(leader);
  await etcd.waitForLeader(15000);
  const w2 = new Etcd3({ hosts: etcd.endpoints.filter((_, i) => i !== leader) });
  await w2.put(`/calico/bgp/v1/host/r${round}/ip_addr_v4`).value(`10.0.1.${round}`);
  w2.close();
  await new Promise((r) => setTimeout(r, 8000));
  await etcd.restart(leader);
}
child.kill('SIGTERM');
const res = await child;
console.log(
  res.exitCode,
  res.signal,
  (res.all ?? '')
    .split('\n')
    .filter((l) => !l.includes('"component":"bird"'))
    .map((l) => l.slice(0, 260))
    .join('\n'),
);
w.close();
await etcd.stop();
