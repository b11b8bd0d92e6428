/**
 * How IPIP pools are rendered for the BIRD at hand (README "What is rendered", IPIP): `--ipip auto|krt-tunnel|
 * onlink|off` against its version. BIRD 1.6: Calico's fork has `krt_tunnel` (probed: Debian's 1.6.8 has not), `auto`
 * takes it when there, else routes IPIP pools natively. BIRD 2/3: `onlink` (2.0.12+, 3.2+); `auto` takes it, and a
 * BIRD without it is the node's error once an IPIP pool exists (renderBird2FileSet.ts), not a quiet fallback.
 */
import { accept, refuse, type Validated } from '../model/result.js';
import type { IpipOption, IpipRendering } from '../render/ipipMode.js';
import { featureRanges, type BirdVersion } from './birdVersion.js';

/** `probeKrtTunnel` asks the binary (probeIpip.ts); it is called only for BIRD 1.6 with `auto`. */
export async function ipipForBird(
  option: IpipOption,
  version: BirdVersion,
  probeKrtTunnel: () => Promise<boolean>,
): Promise<Validated<IpipRendering>> {
  if (version.dialect === 'bird1') {
    if (option === 'onlink')
      return refuse(
        `--ipip onlink: BIRD ${version.text} has no onlink route attribute (BIRD has it ${featureRanges('onlink')}); use --ipip auto, krt-tunnel (Calico's fork) or off`,
      );
    if (option !== 'auto') return accept(option);
    return accept((await probeKrtTunnel()) ? 'krt-tunnel' : 'off');
  }
  switch (option) {
    case 'auto':
      return accept('onlink');
    case 'off':
      return accept('off');
    case 'krt-tunnel':
      return refuse(
        `--ipip krt-tunnel: krt_tunnel exists only in Calico's BIRD 1.6 fork, and this is BIRD ${version.text}; use --ipip auto (onlink) or off`,
      );
    case 'onlink':
      return version.features.onlink
        ? accept('onlink')
        : refuse(
            `--ipip onlink: BIRD ${version.text} has no onlink route attribute (BIRD has it ${featureRanges('onlink')}); install a newer BIRD, or use --ipip off to leave IPIP routes to the dataplane`,
          );
  }
}
