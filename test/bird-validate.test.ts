import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BirdBinaryMissingError } from '../src/bird/errors.js';
import { KRT_TUNNEL_PROBE_CONFIG, probeKrtTunnel } from '../src/bird/probeIpip.js';
import { parseBirdConfigError } from '../src/bird/configError.js';
import { validateBirdConfig } from '../src/bird/validateConfig.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'birdwatch-bird-validate-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const VALID = {
  bird: 'router id 10.0.0.1;\nprotocol device { scan time 2; }\nprotocol static s1 { route 10.1.0.0/24 blackhole; }\n',
  bird6: 'router id 10.0.0.1;\nprotocol device { scan time 2; }\nprotocol static s1 { route fd00:1::/64 blackhole; }\n',
} as const;

t.test('parseBirdConfigError', async (t) => {
  t.same(parseBirdConfigError('bird: /etc/bird.cfg:3:31 syntax error'), {
    file: '/etc/bird.cfg',
    line: 3,
    column: 31,
    message: 'syntax error',
  });
  t.same(
    parseBirdConfigError('/etc/bird.cfg:12:5 Symbol already defined'),
    {
      file: '/etc/bird.cfg',
      line: 12,
      column: 5,
      message: 'Symbol already defined',
    },
    'the 8002 reply form (no program prefix)',
  );
  t.same(
    parseBirdConfigError('bird: sp ace:1:2/x y.cfg:2:1 syntax error'),
    {
      file: 'sp ace:1:2/x y.cfg',
      line: 2,
      column: 1,
      message: 'syntax error',
    },
    'spaces and colons in the path',
  );
  t.equal(parseBirdConfigError('bird: Unable to open configuration file /x: No such file or directory'), undefined);
  t.equal(parseBirdConfigError('/x.cfg: No such file or directory'), undefined);
  t.equal(parseBirdConfigError(''), undefined);
});

for (const binary of ['bird', 'bird6'] as const) {
  t.test(`${binary} -p`, async (t) => {
    const dir = await tempDir(t);
    const valid = join(dir, 'valid.cfg');
    await writeFile(valid, VALID[binary]);
    t.same(await validateBirdConfig({ binary, configPath: valid }), { ok: true });

    const syntax = join(dir, 'syntax.cfg');
    await writeFile(syntax, 'router id 10.0.0.1;\nprotocol device {\n  scan time 2\n}\n');
    t.same(
      await validateBirdConfig({ binary, configPath: syntax }),
      {
        ok: false,
        file: syntax,
        line: 4,
        column: 1,
        message: 'syntax error',
        raw: `bird: ${syntax}:4:1 syntax error`,
        exitCode: 1,
      },
      'both bird and bird6 prefix their error with "bird: "',
    );

    const dup = join(dir, 'dup.cfg');
    await writeFile(dup, `${VALID[binary]}protocol static s1 { }\n`);
    t.match(await validateBirdConfig({ binary, configPath: dup }), {
      ok: false,
      file: dup,
      line: 4,
      message: /already defined/,
    });

    const noFilter = join(dir, 'nofilter.cfg');
    await writeFile(noFilter, 'router id 10.0.0.1;\nprotocol kernel { export filter nosuch; }\n');
    t.match(await validateBirdConfig({ binary, configPath: noFilter }), {
      ok: false,
      line: 2,
      column: 33,
      message: 'No such filter.',
    });

    const include = join(dir, 'include.cfg');
    await writeFile(include, 'router id 10.0.0.1;\ninclude "missing_part.cfg";\nprotocol device { }\n');
    t.match(await validateBirdConfig({ binary, configPath: include }), {
      ok: false,
      file: include,
      line: 2,
      message: /^Unable to open included file .*missing_part\.cfg: No such file or directory$/,
    });

    const missing = join(dir, 'does-not-exist.cfg');
    t.same(
      await validateBirdConfig({ binary, configPath: missing }),
      {
        ok: false,
        file: undefined,
        line: undefined,
        column: undefined,
        message: `Unable to open configuration file ${missing}: No such file or directory`,
        raw: `bird: Unable to open configuration file ${missing}: No such file or directory`,
        exitCode: 1,
      },
      'an error without a location is kept raw',
    );

    const wrongFamily = join(dir, 'wrong-family.cfg');
    await writeFile(wrongFamily, VALID[binary === 'bird' ? 'bird6' : 'bird']);
    t.match(await validateBirdConfig({ binary, configPath: wrongFamily }), { ok: false, file: wrongFamily, line: 3 });

    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await t.rejects(validateBirdConfig({ binary, configPath: valid, signal: ac.signal }), { message: 'cancelled' });
  });
}

t.test('missing binary: BirdBinaryMissingError', async (t) => {
  const dir = await tempDir(t);
  const configPath = join(dir, 'x.cfg');
  await writeFile(configPath, VALID.bird);
  for (const binary of ['birdwatch-no-such-bird', join(dir, 'bird')]) {
    try {
      await validateBirdConfig({ binary, configPath });
      t.fail('should throw');
    } catch (e) {
      t.ok(e instanceof BirdBinaryMissingError, binary);
      t.ok(e instanceof BirdBinaryMissingError && e.binary === binary && e.code === 'ENOENT');
      t.ok((e as Error).cause);
    }
  }
  await t.rejects(probeKrtTunnel('birdwatch-no-such-bird'), BirdBinaryMissingError);
});

t.test("krt_tunnel probe: Debian's BIRD rejects it", async (t) => {
  const before = new Set(await readdir(tmpdir()));
  t.equal(await probeKrtTunnel('bird'), false);
  t.equal(await probeKrtTunnel('bird6'), false);
  const leftovers = (await readdir(tmpdir())).filter((n) => n.startsWith('birdwatch-probe-') && !before.has(n));
  t.same(leftovers, [], 'temp dirs removed');

  // The probe fails only because of krt_tunnel: without that line both binaries accept it.
  const dir = await tempDir(t);
  const control = join(dir, 'control.cfg');
  await writeFile(control, KRT_TUNNEL_PROBE_CONFIG.replace('  krt_tunnel = "tunl0";\n', ''));
  t.same(await validateBirdConfig({ binary: 'bird', configPath: control }), { ok: true });
  t.same(await validateBirdConfig({ binary: 'bird6', configPath: control }), { ok: true });
  const probe = join(dir, 'probe.cfg');
  await writeFile(probe, KRT_TUNNEL_PROBE_CONFIG);
  t.match(await validateBirdConfig({ binary: 'bird', configPath: probe }), {
    ok: false,
    line: 3,
    message: 'You may set only variables.',
  });
});
