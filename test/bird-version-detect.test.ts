/**
 * detectBirdVersion on real binaries (README "BIRD 2 and BIRD 3"): every installed BIRD answers `--version` with the
 * version test/support/birdVersions.ts read from it, whatever its path; a missing binary, a program that is not
 * BIRD and one that fails each get their own error naming the binary.
 */
import t from 'tap';
import { detectBirdVersion } from '../src/bird/detectBirdVersion.js';
import { BirdBinaryMissingError, BirdVersionError } from '../src/bird/errors.js';
import { installedBirds } from './support/birdVersions.js';

t.test('each installed BIRD: the version and dialect it reports', async (t) => {
  const birds = installedBirds();
  t.ok(birds.length > 0, 'at least the system BIRD 1.6 (scripts/setup installs it)');
  for (const b of birds) {
    const detected = await detectBirdVersion(b.bird);
    t.same(detected, b.version, `${b.bird}: ${b.version.text}`);
    t.equal(
      detected.dialect,
      b.version.major === 1 ? 'bird1' : 'bird2',
      `${b.version.text} renders ${detected.dialect}`,
    );
    if (b.bird6 !== undefined) t.same(await detectBirdVersion(b.bird6), b.version, `${b.bird6}: the same release`);
  }
});

t.test('a binary that cannot be run, is not BIRD, or fails: a typed error naming it', async (t) => {
  const missing = '/nonexistent/sbin/bird';
  const error = await detectBirdVersion(missing).catch((e: unknown) => e);
  t.ok(error instanceof BirdBinaryMissingError, 'missing: BirdBinaryMissingError');
  t.match(error, { binary: missing, message: /cannot run BIRD binary .*ENOENT/ });

  // Node answers `--version` with `v20.…` and exit 0: an answer, but not BIRD's.
  const notBird = await detectBirdVersion(process.execPath).catch((e: unknown) => e);
  t.ok(notBird instanceof BirdVersionError, 'not BIRD: BirdVersionError');
  t.match(notBird, { binary: process.execPath, message: /--version: not BIRD's --version answer: "v\d+/ });

  const failing = await detectBirdVersion('false').catch((e: unknown) => e);
  t.ok(failing instanceof BirdVersionError, 'exits 1 and says nothing: BirdVersionError');
  t.match(failing, { binary: 'false', message: /^false --version failed/ });
});
