/**
 * The shipped service definitions are well-formed: every runit script parses with sh -n (the lab runs them
 * all: test/e2e-supervise.test.ts), and systemd accepts the units (`systemd-analyze verify`, when installed).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { PACKAGED_RUNIT_SERVICES, REPO_ROOT } from './lab/lab.js';

t.test('runit run scripts parse', async (t) => {
  for (const service of readdirSync(PACKAGED_RUNIT_SERVICES)) {
    for (const script of [join(service, 'run'), join(service, 'log', 'run')]) {
      const checked = await execa('sh', ['-n', join(PACKAGED_RUNIT_SERVICES, script)], { reject: false });
      t.equal(checked.exitCode, 0, `${script}: sh -n${checked.stderr === '' ? '' : `: ${checked.stderr}`}`);
    }
  }
});

t.test('systemd units verify', async (t) => {
  const analyze = await execa('systemd-analyze', ['--version'], { reject: false }).catch(() => undefined);
  if (analyze === undefined || analyze.exitCode !== 0) {
    t.plan(0, 'systemd-analyze is not installed here');
    return;
  }
  const dir = join(REPO_ROOT, 'packaging', 'systemd');
  const units = readdirSync(dir)
    .filter((f) => f.endsWith('.service'))
    .sort();
  t.same(
    units,
    ['birdwatch-bird.service', 'birdwatch-bird6.service', 'birdwatch.service'],
    'birdwatch, and BIRD and BIRD6 ordered after it',
  );
  const verified = await execa('systemd-analyze', ['verify', '--man=no', ...units.map((u) => `./${u}`)], {
    cwd: dir,
    reject: false,
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' },
  });
  t.equal(verified.exitCode, 0, `systemd-analyze verify${verified.stderr === '' ? '' : `: ${verified.stderr}`}`);
  t.equal(verified.stderr, '', 'no warnings');
});
