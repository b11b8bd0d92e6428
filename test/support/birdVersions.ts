import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseBirdVersionOutput, type BirdVersion } from '../../src/bird/birdVersion.js';

/**
 * The BIRDs installed for the tests (README "Tests"): the system's `bird`/`bird6` (Debian's BIRD 1.6) and every
 * prefix scripts/setup-bird filled in its cache (`<cache>/<version>/sbin/bird`, `birdc`). Each is asked its
 * version (`bird --version`), never trusted by its path. A test that needs one it cannot find skips with the reason.
 */
export interface InstalledBird {
  readonly version: BirdVersion;
  /** The daemon (`bird`; for BIRD 1.6 the IPv4 one). */
  readonly bird: string;
  /** BIRD 1.6 only: the IPv6 daemon. */
  readonly bird6: string | undefined;
  readonly birdc: string | undefined;
}

/** Where scripts/setup-bird puts them (the same default, the same override). */
const BIRD_CACHE_DIR =
  process.env['BIRDWATCH_BIRD_CACHE'] ??
  join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'birdwatch', 'bird');

function versionOf(binary: string): BirdVersion | undefined {
  // BIRD prints its version on stderr.
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error) return undefined;
  const parsed = parseBirdVersionOutput(`${run.stderr}${run.stdout}`);
  return parsed.ok ? parsed.value : undefined;
}

const onPath = (name: string): string | undefined => {
  for (const dir of (process.env['PATH'] ?? '').split(':'))
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  for (const dir of ['/usr/sbin', '/sbin', '/usr/local/sbin']) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
};

let found: InstalledBird[] | undefined;

/** Every installed BIRD, by version (one per version: the system's first), oldest first. */
export function installedBirds(): readonly InstalledBird[] {
  if (found) return found;
  const birds: InstalledBird[] = [];
  const system = onPath('bird');
  const systemVersion = system && versionOf(system);
  if (system && systemVersion)
    birds.push({
      version: systemVersion,
      bird: system,
      bird6: systemVersion.dialect === 'bird1' ? onPath('bird6') : undefined,
      birdc: onPath('birdc'),
    });
  if (existsSync(BIRD_CACHE_DIR))
    for (const entry of readdirSync(BIRD_CACHE_DIR).sort()) {
      const prefix = join(BIRD_CACHE_DIR, entry);
      if (!existsSync(join(prefix, '.birdwatch-ok'))) continue;
      const bird = join(prefix, 'sbin', 'bird');
      const version = versionOf(bird);
      if (!version || birds.some((b) => b.version.text === version.text)) continue;
      birds.push({
        version,
        bird,
        bird6: undefined,
        birdc: existsSync(join(prefix, 'sbin', 'birdc')) ? join(prefix, 'sbin', 'birdc') : undefined,
      });
    }
  const key = (v: BirdVersion): number => v.major * 1e6 + v.minor * 1e3 + v.patch;
  found = birds.sort((a, b) => key(a.version) - key(b.version));
  return found;
}

/** The versions the BIRD 2/3 tests are meant to run against: Debian 12's bird2, Debian 13's bird3, the latest. */
export const WANTED_BIRD2_VERSIONS = ['2.0.12', '3.1.0', '3.3.2'] as const;

/** An installed BIRD of exactly this version, or why not (for `t.skip`/`{ skip }`). */
export function birdOfVersion(text: string): InstalledBird | { readonly missing: string } {
  const bird = installedBirds().find((b) => b.version.text === text);
  return (
    bird ?? {
      missing: `BIRD ${text} is not installed (scripts/setup-bird puts it in ${BIRD_CACHE_DIR}/${text}; installed: ${
        installedBirds()
          .map((b) => b.version.text)
          .join(', ') || 'none'
      })`,
    }
  );
}

/** The installed BIRD 1.6 (bird + bird6), or why not. */
export function bird16(): InstalledBird | { readonly missing: string } {
  const bird = installedBirds().find((b) => b.version.dialect === 'bird1' && b.bird6 !== undefined);
  return bird ?? { missing: 'no BIRD 1.6 (bird and bird6) on this system: the distribution has no such package' };
}

export const isMissing = (b: InstalledBird | { readonly missing: string }): b is { readonly missing: string } =>
  'missing' in b;
