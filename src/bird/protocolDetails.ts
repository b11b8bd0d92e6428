/**
 * `show protocols all`: each protocol's row (showProtocols.ts) and the detail lines under it, in the three shapes
 * BIRD prints (captured in fixtures/bird-outputs/; bird-<version>/ for 2.x and 3.x):
 * - BIRD 1.6: one table per daemon, so `Preference`, `Input filter`, `Output filter`, `Routes: N imported, …` sit at
 *   protocol level; a BGP protocol adds `BGP state`, `Neighbor address`, `Neighbor AS`, and once Established
 *   `Neighbor ID`, `Session: internal multihop AS4 …`, `Source address` (no `Local AS`).
 * - BIRD 2: the same BGP lines plus `Local AS`, then one block per channel (`Channel ipv4`, `State`, `Table`,
 *   `Input filter`, `Output filter`, `Routes`, route change stats, `BGP Next hop`, `IGP IPv4 table`).
 * - BIRD 3: as BIRD 2, with `Created:` first, `Import state`/`Export state` per channel, two more stats columns
 *   (`RX limit`, `limit`), `TX pending`, `Send hold timer`.
 * Lines arrive as reply text (code 1002 for a row, 1006 for details; continuation lines already carry the code).
 * Never throws: what it does not know it skips.
 */
import { parseShowProtocols, type ProtocolEntry } from './showProtocols.js';

interface RouteCounts {
  readonly imported: number;
  /** Only with `import keep filtered`. */
  readonly filtered: number | undefined;
  readonly exported: number;
  readonly preferred: number;
}

/** One channel (BIRD 2/3), or BIRD 1.6's protocol-level equivalent (`name` undefined). */
export interface ChannelDetails {
  readonly name: string | undefined;
  readonly state: string | undefined;
  readonly table: string | undefined;
  readonly inputFilter: string | undefined;
  readonly outputFilter: string | undefined;
  /** Absent while the channel (or 1.6 protocol) is down. */
  readonly routes: RouteCounts | undefined;
}

interface BgpDetails {
  readonly state: string | undefined;
  readonly neighborAddress: string | undefined;
  readonly neighborAs: number | undefined;
  /** BIRD 2/3 only (1.6 does not print it). */
  readonly localAs: number | undefined;
  /** Once Established. */
  readonly neighborId: string | undefined;
  /** The words of `Session:` once Established: `internal`/`external`, `multihop`, `route-reflector`, `AS4`, … */
  readonly session: readonly string[] | undefined;
  readonly sourceAddress: string | undefined;
  readonly lastError: string | undefined;
}

export interface ProtocolDetails {
  readonly protocol: ProtocolEntry;
  readonly description: string | undefined;
  readonly channels: readonly ChannelDetails[];
  /** For BGP protocols. */
  readonly bgp: BgpDetails | undefined;
}

const ROUTES = /^Routes:\s+(\d+) imported,(?:\s+(\d+) filtered,)?\s+(\d+) exported,\s+(\d+) preferred/;
const FIELD = /^([A-Za-z][A-Za-z0-9 ]*?):\s*(.*)$/;

type MutableChannel = { -readonly [K in keyof ChannelDetails]: ChannelDetails[K] };
type MutableBgp = { -readonly [K in keyof BgpDetails]: BgpDetails[K] };

const number = (text: string): number | undefined => (/^\d+$/.test(text) ? Number(text) : undefined);

class Builder {
  description: string | undefined;
  readonly channels: MutableChannel[] = [];
  bgp: MutableBgp | undefined;
  #channel: MutableChannel | undefined;

  constructor(readonly protocol: ProtocolEntry) {
    if (protocol.proto === 'BGP')
      this.bgp = {
        state: undefined,
        neighborAddress: undefined,
        neighborAs: undefined,
        localAs: undefined,
        neighborId: undefined,
        session: undefined,
        sourceAddress: undefined,
        lastError: undefined,
      };
  }

  /** The channel lines go to: the current `Channel x` block, or (BIRD 1.6) the protocol's own. */
  #current(): MutableChannel {
    if (!this.#channel) {
      this.#channel = {
        name: undefined,
        state: undefined,
        table: undefined,
        inputFilter: undefined,
        outputFilter: undefined,
        routes: undefined,
      };
      this.channels.push(this.#channel);
    }
    return this.#channel;
  }

  line(text: string): void {
    const trimmed = text.trim();
    const channel = /^Channel (\S+)$/.exec(trimmed);
    if (channel) {
      this.#channel = {
        name: channel[1],
        state: undefined,
        table: undefined,
        inputFilter: undefined,
        outputFilter: undefined,
        routes: undefined,
      };
      this.channels.push(this.#channel);
      return;
    }
    const routes = ROUTES.exec(trimmed);
    if (routes) {
      this.#current().routes = {
        imported: Number(routes[1]),
        filtered: routes[2] === undefined ? undefined : Number(routes[2]),
        exported: Number(routes[3]),
        preferred: Number(routes[4]),
      };
      return;
    }
    const field = FIELD.exec(trimmed);
    if (!field) return;
    const [, label = '', value = ''] = field;
    const bgp = this.bgp;
    switch (label) {
      case 'Description':
        this.description = value;
        return;
      case 'State':
        if (this.#channel) this.#channel.state = value;
        return;
      case 'Table':
        if (this.#channel) this.#channel.table = value;
        return;
      case 'Input filter':
        this.#current().inputFilter = value;
        return;
      case 'Output filter':
        this.#current().outputFilter = value;
        return;
    }
    if (!bgp) return;
    switch (label) {
      case 'BGP state':
        bgp.state = value;
        return;
      // `10.0.0.2`, or with an interface / onlink (`fe80::1%eth0 onlink`): the address is the first word.
      case 'Neighbor address':
        bgp.neighborAddress = value.split(/[\s%]/, 1)[0];
        return;
      case 'Neighbor AS':
        bgp.neighborAs = number(value);
        return;
      case 'Local AS':
        bgp.localAs = number(value);
        return;
      case 'Neighbor ID':
        bgp.neighborId = value;
        return;
      case 'Session':
        bgp.session = value.split(/\s+/).filter((w) => w.length > 0);
        return;
      case 'Source address':
        bgp.sourceAddress = value;
        return;
      case 'Last error':
        bgp.lastError = value;
        return;
    }
  }

  build(): ProtocolDetails {
    return { protocol: this.protocol, description: this.description, channels: this.channels, bgp: this.bgp };
  }
}

/** Parses the reply lines of `show protocols all` (1002 rows, 1006 details) of BIRD 1.6, 2 or 3. */
export function parseProtocolDetails(
  lines: readonly { readonly code: number; readonly text: string }[],
): ProtocolDetails[] {
  const protocols: Builder[] = [];
  for (const line of lines) {
    if (line.code === 1002) {
      const [row] = parseShowProtocols([line.text]);
      if (row?.kind === 'protocol') protocols.push(new Builder(row));
    } else if (line.code === 1006) protocols[protocols.length - 1]?.line(line.text);
  }
  return protocols.map((p) => p.build());
}
