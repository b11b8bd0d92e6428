import t from 'tap';
import {
  BIRD_VERSION_OPTION,
  featureRanges,
  parseBirdVersionOption,
  parseBirdVersionOutput,
  type BirdVersion,
} from '../../src/bird/birdVersion.js';
import { ipipForBird } from '../../src/bird/ipipForBird.js';

const version = (output: string): BirdVersion => {
  const parsed = parseBirdVersionOutput(output);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

t.test('`bird --version` of each BIRD (as the binaries print it on stderr) picks the dialect', async (t) => {
  t.match(version('BIRD version 1.6.8\n'), { text: '1.6.8', dialect: 'bird1' });
  t.match(version('BIRD version 2.0.12\n'), { text: '2.0.12', dialect: 'bird2', major: 2, minor: 0, patch: 12 });
  t.match(version('BIRD version 3.1.0\n'), { text: '3.1.0', dialect: 'bird2' });
  t.match(version('BIRD version 3.3.2\n'), { text: '3.3.2', dialect: 'bird2' });
  t.match(version('BIRD version v0.3.3+birdv1.6.8\n'), { text: '1.6.8', dialect: 'bird1' }, 'Calico’s fork');
  t.match(version('BIRD version 3.0-alpha0'), { text: '3.0.0', dialect: 'bird2' }, 'a missing patch is 0');
  t.match(version('BIRD version 2.16.1+branch.oldbgp.2a4d05c'), { text: '2.16.1' });
  t.match(parseBirdVersionOutput('bird: command not found'), { ok: false, reason: /not BIRD's --version answer/ });
  t.match(parseBirdVersionOutput('BIRD version 4.0.0'), { ok: false, reason: /BIRD 4\.0\.0 is not supported/ });
  t.match(parseBirdVersionOutput('BIRD version 1.5.0'), { ok: false, reason: /not supported/ });
});

t.test('the version gates the templates need, as data', async (t) => {
  const onlink = (text: string): boolean => version(`BIRD version ${text}`).features.onlink;
  t.same(
    ['1.6.8', '2.0.11', '2.0.12', '2.17.1', '3.0.0', '3.1.0', '3.1.5', '3.2.0', '3.3.2'].map(onlink),
    [false, false, true, true, false, false, false, true, true],
    'onlink: 2.0.12+ on 2.x, none in 3.0–3.1, back in 3.2',
  );
  t.equal(featureRanges('onlink'), 'from 2.0.12 on 2.x, from 3.2.0 on 3.x');
  t.same(
    ['2.16.0', '2.17.0', '3.1.0'].map((v) => version(`BIRD version ${v}`).features.authentication),
    [false, true, true],
  );
  t.same(
    ['2.0.4', '2.0.5', '3.3.2'].map((v) => version(`BIRD version ${v}`).features.configureStatus),
    [false, true, true],
  );
  t.same(
    ['2.17.1', '3.0.0'].map((v) => version(`BIRD version ${v}`).features.reloadFilters),
    [false, true],
  );
  t.equal(version('BIRD version 1.6.8').features.onlink, false);
});

t.test(`${BIRD_VERSION_OPTION}: the override for rendering where the binary cannot run`, async (t) => {
  t.match(parseBirdVersionOption('2.0.12'), { ok: true, value: { text: '2.0.12', dialect: 'bird2' } });
  t.match(parseBirdVersionOption('3.3'), { ok: true, value: { text: '3.3.0' } });
  t.match(parseBirdVersionOption('1.6.8'), { ok: true, value: { dialect: 'bird1' } });
  for (const bad of ['2', 'bird2', '', '2.0.12-7', 'v3.3.2'])
    t.match(
      parseBirdVersionOption(bad),
      { ok: false, reason: new RegExp(`^${BIRD_VERSION_OPTION} ".*": expected`) },
      bad,
    );
  t.match(parseBirdVersionOption('4.1'), {
    ok: false,
    reason: /^--bird-version "4\.1": BIRD 4\.1\.0 is not supported/,
  });
});

t.test('--ipip against the BIRD at hand', async (t) => {
  const at = (text: string): BirdVersion => version(`BIRD version ${text}`);
  const withFork = async () => true;
  const withoutFork = async () => false;
  t.match(await ipipForBird('auto', at('1.6.8'), withFork), { ok: true, value: 'krt-tunnel' }, 'Calico’s fork');
  t.match(await ipipForBird('auto', at('1.6.8'), withoutFork), { ok: true, value: 'off' }, 'Debian’s 1.6.8');
  t.match(await ipipForBird('onlink', at('1.6.8'), withFork), { ok: false, reason: /^--ipip onlink: BIRD 1\.6\.8/ });
  for (const v of ['2.0.12', '3.1.0', '3.3.2'])
    t.match(await ipipForBird('auto', at(v), withFork), { ok: true, value: 'onlink' }, `${v}: auto is onlink`);
  t.match(await ipipForBird('onlink', at('3.3.2'), withFork), { ok: true, value: 'onlink' });
  t.match(
    await ipipForBird('onlink', at('3.1.0'), withFork),
    { ok: false, reason: /^--ipip onlink: BIRD 3\.1\.0 has no onlink .*--ipip off/ },
    'asked for explicitly, refused at once where the BIRD lacks it',
  );
  t.match(await ipipForBird('krt-tunnel', at('2.0.12'), withFork), { ok: false, reason: /Calico's BIRD 1\.6 fork/ });
  t.match(await ipipForBird('off', at('3.1.0'), withFork), { ok: true, value: 'off' });
});
