/**
 * How IPIP pools reach the kernel. `krt-tunnel`: Calico's BIRD 1.6 fork sets `krt_tunnel` on kernel export;
 * `onlink`: upstream BIRD 2.0.12+ / 3.2+ sets `ifname`, `onlink` and `gw` on BGP import (the BIRD 2/3 templates);
 * `off`: IPIP pools are exported and routed natively (the dataplane owns the tunnel). `auto` is resolved to one of
 * these for the BIRD at hand (src/bird/ipipForBird.ts) before rendering.
 */
export type IpipRendering = 'krt-tunnel' | 'onlink' | 'off';
export type IpipOption = IpipRendering | 'auto';
export const IPIP_OPTIONS: readonly IpipOption[] = ['auto', 'krt-tunnel', 'onlink', 'off'];
