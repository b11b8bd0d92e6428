import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import { runBirdCommand } from '../src/bird/controlSocket.js';
import { startBird, writeMinimalConfig } from './harness/bird.js';
import { startEtcd, startEtcdForTest } from './harness/etcd.js';
import { freePorts, pidAlive } from './harness/process.js';

t.test('free ports are distinct', async (t) => {
  const ports = await freePorts(6);
  t.equal(new Set(ports).size, 6);
  for (const p of ports) t.ok(p > 0 && p < 65536);
});

t.test('single-member etcd: put/get, stop leaves no process and no temp dir', async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  t.equal(etcd.endpoints.length, 1);
  t.match(etcd.endpoints[0], /^http:\/\/127\.0\.0\.1:\d+$/);
  const [pid] = etcd.pids();
  t.ok(pid !== undefined && pidAlive(pid), 'etcd runs');

  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  await client.put('/calico/v1/config/AsNumber').value('64512');
  t.equal(await client.get('/calico/v1/config/AsNumber').string(), '64512');
  client.close();

  t.ok(existsSync(etcd.rootDir));
  t.match(await etcd.logTail(0), /\S/, 'etcd logs to its file');
  await etcd.stop();
  t.notOk(pid !== undefined && pidAlive(pid), 'PID is gone after stop');
  t.same(etcd.pids(), []);
  t.notOk(existsSync(etcd.rootDir), 'temp dir removed');
  await t.resolves(etcd.stop(), 'stop twice is safe');
});

t.test('three-member etcd: quorum survives one member; killed member restarts', async (t) => {
  const etcd = await startEtcdForTest(t, { members: 3 });
  t.equal(etcd.endpoints.length, 3);
  t.equal(new Set(etcd.endpoints).size, 3);
  const pids = etcd.pids();
  t.equal(pids.length, 3);

  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  t.teardown(() => client.close());
  await client.put('/calico/v1/host/node1/bird_ip').value('10.0.0.1');
  for (const endpoint of etcd.endpoints) {
    const one = new Etcd3({ hosts: endpoint });
    t.equal(await one.get('/calico/v1/host/node1/bird_ip').string(), '10.0.0.1', `read through ${endpoint}`);
    one.close();
  }

  const leader = await etcd.waitForLeader();
  t.equal(await etcd.leader(), leader);
  const exit = await etcd.kill(leader);
  t.equal(exit.signal, 'SIGKILL');
  t.notOk(pidAlive(pids[leader] ?? -1), 'killed leader PID is gone');
  t.equal(etcd.pid(leader), undefined);
  const newLeader = await etcd.waitForLeader();
  t.not(newLeader, leader, 'a new leader is elected');
  const started = Date.now();
  const survivor = new Etcd3({ hosts: etcd.endpoints[(leader + 1) % 3] ?? '' });
  await survivor.put('/calico/v1/host/node2/bird_ip').value('10.0.0.2');
  survivor.close();
  t.ok(Date.now() - started < 2_000, 'a write after the election is prompt');

  await etcd.restart(leader);
  const restarted = etcd.pid(leader);
  t.ok(restarted !== undefined && pidAlive(restarted), 'killed member runs again');
  const back = new Etcd3({ hosts: etcd.endpoints[leader] ?? '' });
  t.equal(await back.get('/calico/v1/host/node2/bird_ip').string(), '10.0.0.2', 'restarted member caught up');
  back.close();

  await etcd.stop();
  for (const pid of [...pids, restarted ?? -1]) t.notOk(pidAlive(pid), `PID ${pid} gone`);
  t.notOk(existsSync(etcd.rootDir));
});

t.test('a given dataDir is kept by stop()', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-harness-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const etcd = await startEtcd({ dataDir: dir });
  const [pid] = etcd.pids();
  await etcd.stop();
  t.notOk(pidAlive(pid ?? -1));
  t.ok(existsSync(etcd.members[0]?.logFile ?? ''), 'log kept');
  t.ok(existsSync(etcd.members[0]?.dataDir ?? ''), 'data kept');
});

t.test('bird harness: foreground bird answers, stop by PID leaves nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-harness-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const family of [4, 6] as const) {
    const configPath = join(dir, `bird${family}.cfg`);
    const logFile = join(dir, `bird${family}.log`);
    await writeMinimalConfig(configPath, '10.0.0.1');
    const bird = await startBird({ family, configPath, socketPath: join(dir, `bird${family}.ctl`), logFile });
    t.teardown(() => bird.stop());
    t.ok(pidAlive(bird.pid), `bird${family === 6 ? '6' : ''} runs as our child`);
    t.equal((await runBirdCommand(bird.socketPath, 'show status')).code, 13);
    const exit = await bird.stop();
    t.equal(exit.code, 0, 'SIGTERM: clean shutdown');
    t.notOk(pidAlive(bird.pid), 'PID is gone');
    t.notOk(bird.running());
    t.match(await bird.output(), /Started/, 'log file written');
    t.same(await bird.stop(), exit, 'stop twice is safe');
  }

  const broken = join(dir, 'broken.cfg');
  await writeMinimalConfig(broken, '10.0.0.1', { extra: 'protocol bogus {}' });
  await t.rejects(
    startBird({ family: 4, configPath: broken, socketPath: join(dir, 'broken.ctl') }),
    { message: /did not come up[\s\S]*broken\.cfg:5/ },
    'a config BIRD refuses: the error carries its output',
  );
});
