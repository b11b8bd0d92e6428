/**
 * The few BGP-4 messages (RFC 4271) the test speaker (bgpSpeakerChild.ts) needs to bring a real BIRD's session to
 * Established and read what BIRD sends: OPEN with multiprotocol, 4-octet AS and graceful-restart capabilities,
 * KEEPALIVE, and UPDATE (IPv4 NLRI, MP_REACH/MP_UNREACH for IPv6, CLUSTER_LIST, End-of-RIB). Pure.
 */
import { isIPv4 } from 'node:net';

const MSG = { open: 1, update: 2, notification: 3, keepalive: 4, refresh: 5 } as const;
const AS_TRANS = 23456;
const HEADER = 19;

function message(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(HEADER, 0xff);
  head.writeUInt16BE(HEADER + body.length, 16);
  head.writeUInt8(type, 18);
  return Buffer.concat([head, body]);
}

const afiOf = (family: 4 | 6): number => (family === 4 ? 1 : 2);

function ipBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = address.includes('::') ? groups(tail) : [];
  const all = address.includes('::') ? [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function ipText(bytes: Buffer, family: 4 | 6): string {
  if (family === 4) return [...bytes.subarray(0, 4)].map(String).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // RFC 5952: the longest run of zero groups (2+) becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export interface OpenOptions {
  readonly as: number;
  readonly routerId: string;
  readonly family: 4 | 6;
  readonly holdTime: number;
}

export function openMessage(o: OpenOptions): Buffer {
  const caps = [
    Buffer.from([1, 4, 0, afiOf(o.family), 0, 1]), // multiprotocol: AFI, reserved, SAFI unicast
    Buffer.from([2, 0]), // route refresh
    Buffer.concat([Buffer.from([65, 4]), u32(o.as)]), // 4-octet AS
    // Graceful restart, restart time 0, the family (so BIRD sends End-of-RIB after its initial feed).
    Buffer.from([64, 6, 0, 0, 0, afiOf(o.family), 1, 0]),
  ];
  const params = Buffer.concat(caps.map((c) => Buffer.concat([Buffer.from([2, c.length]), c])));
  const body = Buffer.alloc(10);
  body.writeUInt8(4, 0);
  body.writeUInt16BE(o.as > 0xffff ? AS_TRANS : o.as, 1);
  body.writeUInt16BE(o.holdTime, 3);
  ipBytes(o.routerId).copy(body, 5);
  body.writeUInt8(params.length, 9);
  return message(MSG.open, Buffer.concat([body, params]));
}

export const keepaliveMessage = (): Buffer => message(MSG.keepalive, Buffer.alloc(0));

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function attribute(flags: number, type: number, value: Buffer): Buffer {
  if (value.length > 255) {
    const head = Buffer.from([flags | 0x10, type, 0, 0]);
    head.writeUInt16BE(value.length, 2);
    return Buffer.concat([head, value]);
  }
  return Buffer.concat([Buffer.from([flags, type, value.length]), value]);
}

function prefixBytes(prefix: string): { family: 4 | 6; bytes: Buffer } {
  const [address = '', length = '0'] = prefix.split('/');
  const family = isIPv4(address) ? 4 : 6;
  const len = Number(length);
  return { family, bytes: Buffer.concat([Buffer.from([len]), ipBytes(address).subarray(0, Math.ceil(len / 8))]) };
}

export interface AnnounceOptions {
  readonly prefix: string;
  readonly nextHop: string;
  /** Our AS on an eBGP session (prepended to the path); undefined on iBGP (empty path, LOCAL_PREF). */
  readonly ebgpAs: number | undefined;
}

/** One route, with the attributes BIRD needs: ORIGIN, AS_PATH (4-octet), NEXT_HOP or MP_REACH, LOCAL_PREF on iBGP. */
export function announceMessage(a: AnnounceOptions): Buffer {
  const { family, bytes } = prefixBytes(a.prefix);
  const path = a.ebgpAs === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from([2, 1]), u32(a.ebgpAs)]);
  const attrs = [attribute(0x40, 1, Buffer.from([0])), attribute(0x40, 2, path)];
  if (a.ebgpAs === undefined) attrs.push(attribute(0x40, 5, u32(100)));
  let nlri: Buffer = Buffer.alloc(0);
  if (family === 4) {
    attrs.push(attribute(0x40, 3, ipBytes(a.nextHop)));
    nlri = bytes;
  } else {
    const nh = ipBytes(a.nextHop);
    attrs.push(attribute(0x80, 14, Buffer.concat([Buffer.from([0, 2, 1, nh.length]), nh, Buffer.from([0]), bytes])));
  }
  const attrBytes = Buffer.concat(attrs);
  const body = Buffer.alloc(4);
  body.writeUInt16BE(0, 0);
  body.writeUInt16BE(attrBytes.length, 2);
  return message(MSG.update, Buffer.concat([body, attrBytes, nlri]));
}

/** End-of-RIB: an empty UPDATE (IPv4), or one holding only an empty MP_UNREACH_NLRI (IPv6). */
export function endOfRibMessage(family: 4 | 6): Buffer {
  if (family === 4) return message(MSG.update, Buffer.alloc(4));
  const attr = attribute(0x80, 15, Buffer.from([0, 2, 1]));
  const body = Buffer.alloc(4);
  body.writeUInt16BE(attr.length, 2);
  return message(MSG.update, Buffer.concat([body, attr]));
}

export interface ReceivedOpen {
  readonly as: number;
  readonly holdTime: number;
  readonly routerId: string;
  readonly capabilities: readonly number[];
}

interface ReceivedUpdate {
  readonly announced: readonly string[];
  readonly withdrawn: readonly string[];
  /** CLUSTER_LIST as dotted quads (a reflected route), empty when absent. */
  readonly clusterList: readonly string[];
  readonly endOfRib: 4 | 6 | undefined;
}

export type Received =
  | { readonly type: 'open'; readonly open: ReceivedOpen }
  | { readonly type: 'update'; readonly update: ReceivedUpdate }
  | { readonly type: 'keepalive' }
  | { readonly type: 'notification'; readonly code: number; readonly subcode: number }
  | { readonly type: 'other'; readonly code: number };

function parsePrefixes(buf: Buffer, family: 4 | 6): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const len = buf[i]!;
    const n = Math.ceil(len / 8);
    const addr = Buffer.alloc(family === 4 ? 4 : 16);
    buf.copy(addr, 0, i + 1, i + 1 + n);
    out.push(`${ipText(addr, family)}/${len}`);
    i += 1 + n;
  }
  return out;
}

function parseOpen(body: Buffer): ReceivedOpen {
  let as = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  const routerId = ipText(body.subarray(5, 9), 4);
  const params = body.subarray(10, 10 + body.readUInt8(9));
  const capabilities: number[] = [];
  for (let i = 0; i < params.length;) {
    const type = params[i]!;
    const len = params[i + 1]!;
    if (type === 2)
      for (let j = i + 2; j < i + 2 + len;) {
        const code = params[j]!;
        const clen = params[j + 1]!;
        capabilities.push(code);
        if (code === 65) as = params.readUInt32BE(j + 2);
        j += 2 + clen;
      }
    i += 2 + len;
  }
  return { as, holdTime, routerId, capabilities };
}

function parseUpdate(body: Buffer): ReceivedUpdate {
  const wlen = body.readUInt16BE(0);
  const withdrawn = parsePrefixes(body.subarray(2, 2 + wlen), 4);
  const alen = body.readUInt16BE(2 + wlen);
  const attrs = body.subarray(4 + wlen, 4 + wlen + alen);
  const announced = parsePrefixes(body.subarray(4 + wlen + alen), 4);
  const clusterList: string[] = [];
  let endOfRib: 4 | 6 | undefined = wlen === 0 && alen === 0 && announced.length === 0 ? 4 : undefined;
  for (let i = 0; i < attrs.length;) {
    const flags = attrs[i]!;
    const type = attrs[i + 1]!;
    const extended = (flags & 0x10) !== 0;
    const len = extended ? attrs.readUInt16BE(i + 2) : attrs[i + 2]!;
    const value = attrs.subarray(i + (extended ? 4 : 3), i + (extended ? 4 : 3) + len);
    if (type === 10)
      for (let j = 0; j + 4 <= value.length; j += 4) clusterList.push(ipText(value.subarray(j, j + 4), 4));
    if (type === 14 && value.readUInt16BE(0) === 2) {
      const nhLen = value[3]!;
      announced.push(...parsePrefixes(value.subarray(4 + nhLen + 1), 6));
    }
    if (type === 15 && value.readUInt16BE(0) === 2) {
      const gone = parsePrefixes(value.subarray(3), 6);
      if (gone.length === 0 && alen === len + (extended ? 4 : 3)) endOfRib = 6;
      withdrawn.push(...gone);
    }
    i += (extended ? 4 : 3) + len;
  }
  return { announced, withdrawn, clusterList, endOfRib };
}

/** Splits a byte stream into BGP messages: the decoded ones, and the bytes left for the next chunk. */
export function readMessages(buffer: Buffer): { messages: Received[]; rest: Buffer } {
  const messages: Received[] = [];
  let i = 0;
  while (buffer.length - i >= HEADER) {
    const len = buffer.readUInt16BE(i + 16);
    if (len < HEADER) throw new Error(`BGP message length ${len}`);
    if (buffer.length - i < len) break;
    const type = buffer[i + 18]!;
    const body = buffer.subarray(i + HEADER, i + len);
    if (type === MSG.open) messages.push({ type: 'open', open: parseOpen(body) });
    else if (type === MSG.update) messages.push({ type: 'update', update: parseUpdate(body) });
    else if (type === MSG.keepalive) messages.push({ type: 'keepalive' });
    else if (type === MSG.notification)
      messages.push({ type: 'notification', code: body[0] ?? 0, subcode: body[1] ?? 0 });
    else messages.push({ type: 'other', code: type });
    i += len;
  }
  return { messages, rest: buffer.subarray(i) };
}
