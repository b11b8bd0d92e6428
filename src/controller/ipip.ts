import { probeKrtTunnel } from '../bird/probeIpip.js';
import type { IpipOption, IpipRendering } from '../render/ipipMode.js';

/** Resolves `--ipip auto` by asking the installed bird once whether it knows Calico's krt_tunnel attribute. */
export async function resolveIpipRendering(option: IpipOption, birdBinary: string): Promise<IpipRendering> {
  if (option !== 'auto') return option;
  return (await probeKrtTunnel(birdBinary)) ? 'krt-tunnel' : 'off';
}
