/**
 * Which BIRD birdwatch talks to, and what that version can do: the one place for everything version-specific
 * (README "Which BIRD"). Pure; `detectBirdVersion.ts` runs `bird --version`.
 *
 * - BIRD 1.6 (`bird1` dialect): two daemons, `bird` (IPv4) and `bird6` (IPv6), two configuration sets.
 * - BIRD 2.x and 3.x (`bird2` dialect): one daemon for both families, one `bird.cfg` with `ipv4 { … }` and
 *   `ipv6 { … }` channels. BIRD 3 reads BIRD 2's language; what differs between them is gated below.
 */
import type { Daemon } from '../model/daemon.js';
import { accept, refuse, type Validated } from '../model/result.js';

export type BirdDialect = 'bird1' | 'bird2';

/** Things some versions have and others lack, each gated by version ranges below. */
export type BirdFeature =
  'onlink' | 'configureStatus' | 'channelDebug' | 'learnAll' | 'authentication' | 'reloadFilters';

export interface BirdVersion {
  /** `2.0.12`, as `bird --version` says it (`1.6.8` for Calico's fork, from its `+birdv1.6.8` suffix). */
  readonly text: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly dialect: BirdDialect;
  readonly features: Readonly<Record<BirdFeature, boolean>>;
}

type Triple = readonly [number, number, number];
interface VersionRange {
  readonly from: Triple;
  /** Exclusive; open when absent. */
  readonly below?: Triple;
}

/**
 * The version gates, as data (checked with the real binaries where it says so; the others from BIRD's NEWS and
 * manual, ../shared/reference/bird2.md). Calico's `krt_tunnel` is not a version gate: only its fork of 1.6 has
 * it, so it is probed (probeIpip.ts).
 */
const BIRD_FEATURE_GATES: Readonly<
  Record<BirdFeature, { readonly what: string; readonly ranges: readonly VersionRange[] }>
> = {
  // Checked with bird -p: 2.0.12 and 3.3.2 accept `onlink = true;`, 3.1.0 refuses it (`syntax error, unexpected
  // ONLINK`); 3.0 dropped it, 3.2.0 brought it back ("Filters: Re-enabling onlink nexthop attribute").
  onlink: {
    what: 'the onlink route attribute',
    ranges: [{ from: [2, 0, 12], below: [3, 0, 0] }, { from: [3, 2, 0] }],
  },
  configureStatus: { what: '`configure status`', ranges: [{ from: [2, 0, 5] }] },
  channelDebug: { what: 'per-channel `debug`', ranges: [{ from: [2, 0, 8] }] },
  // Checked in the 3.1.0 sources: `learn all` and BGP `authentication` are there (3.1 merged 2.17).
  learnAll: { what: 'kernel `learn all`', ranges: [{ from: [2, 14, 0] }] },
  authentication: { what: 'BGP `authentication md5`', ranges: [{ from: [2, 17, 0] }] },
  reloadFilters: {
    what: '`reload filters <protocol>` (`reload <protocol>` before 3.0)',
    ranges: [{ from: [3, 0, 0] }],
  },
};

const compare = (a: Triple, b: Triple): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

const inRange = (v: Triple, r: VersionRange): boolean =>
  compare(v, r.from) >= 0 && (r.below === undefined || compare(v, r.below) < 0);

/** Where a feature is, in words: `from 2.0.12 on 2.x, from 3.2.0 on 3.x`. */
export const featureRanges = (feature: BirdFeature): string =>
  BIRD_FEATURE_GATES[feature].ranges.map((r) => `from ${r.from.join('.')} on ${r.from[0]}.x`).join(', ');

function versionOf(major: number, minor: number, patch: number): Validated<BirdVersion> {
  const text = `${major}.${minor}.${patch}`;
  let dialect: BirdDialect;
  if (major === 1 && minor >= 6) dialect = 'bird1';
  else if (major === 2 || major === 3) dialect = 'bird2';
  else return refuse(`BIRD ${text} is not supported (birdwatch speaks BIRD 1.6, 2.x and 3.x)`);
  const v: Triple = [major, minor, patch];
  const features = Object.fromEntries(
    (Object.keys(BIRD_FEATURE_GATES) as BirdFeature[]).map((f) => [
      f,
      BIRD_FEATURE_GATES[f].ranges.some((r) => inRange(v, r)),
    ]),
  ) as Record<BirdFeature, boolean>;
  return accept({ text, major, minor, patch, dialect, features });
}

/**
 * The version in `bird --version` output: `BIRD version 2.0.12` (upstream, on stderr), `BIRD version
 * v0.3.3+birdv1.6.8` (Calico's fork: the BIRD release is after `+bird`), `BIRD version 3.0-alpha0` (a missing
 * patch is 0).
 */
export function parseBirdVersionOutput(output: string): Validated<BirdVersion> {
  const line = /BIRD version (\S+)/.exec(output);
  if (!line) return refuse(`not BIRD's --version answer: ${JSON.stringify(output.trim().slice(0, 200))}`);
  const word = line[1]!;
  const fork = /\+birdv?(\d+)\.(\d+)(?:\.(\d+))?/.exec(word);
  const plain = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(word);
  const m = fork ?? plain;
  if (!m) return refuse(`cannot read a version in ${JSON.stringify(line[0])}`);
  return versionOf(Number(m[1]), Number(m[2]), Number(m[3] ?? 0));
}

/** The option that names the BIRD version when the binary cannot be run (rendering for another machine). */
export const BIRD_VERSION_OPTION = '--bird-version';

/**
 * Parses the override value: a release as `bird --version` prints it (`1.6.8`, `2.0.12`, `3.3.2`; major.minor is
 * enough, a missing patch is 0). The error names the option, the value and what is accepted.
 */
export function parseBirdVersionOption(value: string): Validated<BirdVersion> {
  const m = /^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?$/.exec(value.trim());
  if (!m)
    return refuse(
      `${BIRD_VERSION_OPTION} ${JSON.stringify(value)}: expected a BIRD release as \`bird --version\` prints it, e.g. 1.6.8, 2.0.12 or 3.3.2`,
    );
  const parsed = versionOf(Number(m[1]), Number(m[2]), Number(m[3] ?? 0));
  return parsed.ok ? parsed : refuse(`${BIRD_VERSION_OPTION} ${JSON.stringify(value)}: ${parsed.reason}`);
}

/** The BIRD 1.6 birdwatch rendered for before it asked the binary (Debian's 1.6.8): what callers without one mean. */
export const BIRD_1_6: BirdVersion = (() => {
  const parsed = versionOf(1, 6, 8);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
})();

/** The daemons of a dialect (README "BIRD 2 and BIRD 3"): BIRD 1.6 runs `bird` and `bird6`, BIRD 2/3 `bird` alone. */
export const daemonsOfDialect = (dialect: BirdDialect): readonly Daemon[] =>
  dialect === 'bird1' ? ['bird', 'bird6'] : ['bird'];

/**
 * The version in a control socket's greeting (`0001 BIRD 2.0.12 ready.`; the text after the code): how `status`,
 * `undo` and `diags` learn which BIRD answers without a binary to ask. undefined: not a version birdwatch speaks.
 */
export function parseBirdGreeting(greeting: string): BirdVersion | undefined {
  const m = /^BIRD (\S+) ready\.?$/.exec(greeting.trim());
  if (!m) return undefined;
  const parsed = parseBirdVersionOutput(`BIRD version ${m[1]}`);
  return parsed.ok ? parsed.value : undefined;
}

/**
 * Which version to render for, from `<bird> --version` (`detected`, when the binary was run) and `--bird-version`
 * (`option`). The option wins: it exists for rendering for a BIRD other than the one at hand. But a binary that
 * will validate (`bird -p`) or run the files must speak the same dialect, else every set would be refused: that
 * pair is refused, naming both. Only the version gates may differ (render for 3.1.0, validate with 3.3.2).
 */
export function chooseBirdVersion(
  detected: BirdVersion | undefined,
  option: BirdVersion | undefined,
  binary: string,
): Validated<BirdVersion> {
  if (option === undefined) {
    if (detected === undefined)
      return refuse(`no BIRD version: ${binary} was not asked and ${BIRD_VERSION_OPTION} not given`);
    return accept(detected);
  }
  if (detected !== undefined && detected.dialect !== option.dialect) {
    const family = (v: BirdVersion): string => (v.dialect === 'bird1' ? 'BIRD 1.6' : 'BIRD 2/3');
    return refuse(
      `${family(option)} files, but ${binary} is BIRD ${detected.text} and would validate and run them; give a ${family(option)} binary as --bird, or leave ${BIRD_VERSION_OPTION} out`,
    );
  }
  return accept(option);
}
