/**
 * How IPIP pools reach the kernel. `krt-tunnel`: Calico's BIRD fork sets `krt_tunnel`; `off`: upstream BIRD
 * rejects that attribute, so IPIP pools are exported and routed natively. `auto` is resolved to one of these
 * by probing the installed bird (an edge concern) before rendering.
 */
export type IpipRendering = 'krt-tunnel' | 'off';
export type IpipOption = IpipRendering | 'auto';
export const IPIP_OPTIONS: readonly IpipOption[] = ['auto', 'krt-tunnel', 'off'];
