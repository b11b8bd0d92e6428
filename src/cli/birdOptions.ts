/**
 * Which BIRD `run` and `render` speak (README "BIRD 2 and BIRD 3"): `--bird` (the binary, asked `--version`),
 * `--bird6` (BIRD 1.6's IPv6 binary; unused with BIRD 2/3), `--bird-version` (the override for rendering where the
 * binary cannot run), and `--ipip` resolved against the version. Checked here once; the rule itself is
 * `chooseBirdVersion` (src/bird/birdVersion.ts).
 */
import type { Command } from 'commander';
import {
  BIRD_VERSION_OPTION,
  chooseBirdVersion,
  parseBirdVersionOption,
  type BirdVersion,
} from '../bird/birdVersion.js';
import { detectBirdVersion } from '../bird/detectBirdVersion.js';
import { BirdBinaryMissingError, BirdVersionError } from '../bird/errors.js';
import { ipipForBird } from '../bird/ipipForBird.js';
import { probeKrtTunnel } from '../bird/probeIpip.js';
import type { IpipRendering } from '../render/ipipMode.js';
import type { BirdBinaries } from '../controller/validateStaged.js';
import { parseIpipOption } from './commonOptions.js';
import { UsageError } from './usageError.js';

export interface BirdFlags {
  readonly bird: string;
  readonly bird6: string;
  readonly birdVersion?: string;
  readonly ipip: string;
}

/** The BIRD a command renders for, the binaries that validate, and how IPIP pools are rendered for it. */
export interface BirdChoice {
  readonly version: BirdVersion;
  /** Where the version came from: `<bird> --version`, or `--bird-version`. */
  readonly source: 'binary' | 'option';
  readonly binaries: BirdBinaries;
  readonly ipip: IpipRendering;
  /** `--ipip auto` with BIRD 1.6 found no `krt_tunnel` (routed natively; the caller warns once). */
  readonly ipipFellBack: boolean;
}

export function addBirdOptions(command: Command, what: string): Command {
  return command
    .option(
      '--ipip <mode>',
      'auto | krt-tunnel | onlink | off (auto: krt_tunnel on BIRD 1.6 when it has it, onlink on BIRD 2/3)',
      'auto',
    )
    .option(
      '--bird <path>',
      `the BIRD binary: asked its version (bird --version picks BIRD 1.6 or BIRD 2/3 files) and used ${what}`,
      'bird',
    )
    .option('--bird6 <path>', `BIRD 1.6's IPv6 binary, used ${what} (not used with BIRD 2/3)`, 'bird6')
    .option(
      `${BIRD_VERSION_OPTION} <x.y.z>`,
      'render for this BIRD release instead of asking --bird (1.6.8, 2.0.12, 3.3.2); it wins over the binary, whose dialect must then agree when the binary validates',
    );
}

/**
 * `--bird-version`, else `<bird> --version`. `runsBinary`: the binary will validate or run the files (not `render
 * --no-validate`), so it is asked even with `--bird-version` and must speak the same dialect. Throws UsageError
 * naming the option, the value and the fix.
 */
export async function resolveBird(flags: BirdFlags, runsBinary: boolean): Promise<BirdChoice> {
  const ipipOption = parseIpipOption(flags.ipip);
  let option: BirdVersion | undefined;
  if (flags.birdVersion !== undefined) {
    const parsed = parseBirdVersionOption(flags.birdVersion);
    if (!parsed.ok)
      throw new UsageError(
        BIRD_VERSION_OPTION,
        flags.birdVersion,
        parsed.reason.replace(/^--bird-version "[^"]*": /, ''),
      );
    option = parsed.value;
  }
  let detected: BirdVersion | undefined;
  if (option === undefined || runsBinary) {
    try {
      detected = await detectBirdVersion(flags.bird);
    } catch (error) {
      if (!(error instanceof BirdBinaryMissingError || error instanceof BirdVersionError)) throw error;
      throw new UsageError(
        '--bird',
        flags.bird,
        `${error.message}; birdwatch asks the binary which BIRD it is (give the BIRD binary as --bird${runsBinary ? '' : `, or ${BIRD_VERSION_OPTION} X.Y.Z to render for a BIRD that is not here`})`,
      );
    }
  }
  const chosen = chooseBirdVersion(detected, option, flags.bird);
  if (!chosen.ok) throw new UsageError(BIRD_VERSION_OPTION, flags.birdVersion, chosen.reason);
  const version = chosen.value;
  const ipip = await ipipForBird(ipipOption, version, () =>
    probeKrtTunnel(flags.bird).catch((error: unknown) => {
      // `render --no-validate --bird-version 1.6.8` where no bird runs: nothing to probe, so no krt_tunnel.
      if (!runsBinary && error instanceof BirdBinaryMissingError) return false;
      throw error;
    }),
  );
  if (!ipip.ok) throw new UsageError('--ipip', flags.ipip, ipip.reason.replace(/^--ipip \S+: /, ''));
  return {
    version,
    source: option === undefined ? 'binary' : 'option',
    binaries: { bird: flags.bird, bird6: flags.bird6 },
    ipip: ipip.value,
    ipipFellBack: ipipOption === 'auto' && version.dialect === 'bird1' && ipip.value === 'off',
  };
}
