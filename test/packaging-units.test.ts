/**
 * The shipped service definitions are well-formed: every runit script parses with sh -n (the lab runs them
 * all: test/e2e-supervise.test.ts), and systemd accepts the units (`systemd-analyze verify`, when installed).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

t.test('BIRD 2 and 3: one BIRD service (bird6 stands down, or is skipped by systemd)', async (t) => {
  const read = (path: string): string => readFileSync(join(REPO_ROOT, 'packaging', path), 'utf8');
  t.match(
    read('systemd/birdwatch-bird6.service'),
    /^ConditionPathExists=\/usr\/sbin\/bird6$/m,
    'systemd: birdwatch-bird6 is skipped where no bird6 is installed (BIRD 2/3 install none)',
  );
  // The runit script on a BIRD 2 host: run with a `bird` that says 2.0.12 and an `sv` that records its call.
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-bird6-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bird'), '#!/bin/sh\necho "BIRD version 2.0.12" >&2\n', { mode: 0o755 });
  writeFileSync(join(dir, 'sv'), `#!/bin/sh\necho "sv $*" > ${join(dir, 'sv-called')}\n`, { mode: 0o755 });
  const run = await execa('sh', [join(PACKAGED_RUNIT_SERVICES, 'bird6', 'run')], {
    reject: false,
    env: { PATH: `${dir}:/usr/bin:/bin`, BIRDWATCH_CONFIG_DIR: dir },
    timeout: 10_000,
  });
  t.equal(run.exitCode, 0);
  t.equal(
    run.stdout,
    'bird6: not needed: BIRD version 2.0.12 serves IPv6 in the bird service; taking this service down',
  );
  t.equal(readFileSync(join(dir, 'sv-called'), 'utf8'), 'sv down .\n', 'runsv is told to leave it down');
});
