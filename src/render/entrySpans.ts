import type { AddressFamily } from '../model/address.js';
import { DAEMON_OF_FAMILY, MAIN_FILE } from '../model/daemon.js';
import { keys } from '../model/keys.js';
import type { NodeModel } from '../model/nodeModel.js';
import type { EntrySpan, FileSet } from './fileSet.js';

/** Where a family's statements are, per dialect: which file, and (one file, both families) which function. */
export interface SpanFiles {
  readonly main: Readonly<Record<AddressFamily, string>>;
  readonly ipam: Readonly<Record<AddressFamily, string>>;
  readonly aggr: Readonly<Record<AddressFamily, string>>;
  readonly filters: Readonly<Record<AddressFamily, string>>;
  /** The line that opens the family's custom filter function, when both families share the file. */
  readonly filtersStart?: Readonly<Record<AddressFamily, string>>;
}

/** BIRD 1.6: each family in its own daemon's files. */
const BIRD1_SPAN_FILES: SpanFiles = {
  main: { 4: MAIN_FILE[DAEMON_OF_FAMILY[4]], 6: MAIN_FILE[DAEMON_OF_FAMILY[6]] },
  ipam: { 4: 'bird_ipam.cfg', 6: 'bird6_ipam.cfg' },
  aggr: { 4: 'bird_aggr.cfg', 6: 'bird6_aggr.cfg' },
  filters: { 4: 'custom_filters.cfg', 6: 'custom_filters6.cfg' },
};

/**
 * BIRD 2/3 (layouts.ts BIRD2_NODE_LAYOUT): both families in each file; filters in `custom_filters_v4/_v6()`.
 */
export const BIRD2_SPAN_FILES: SpanFiles = {
  main: { 4: 'bird.cfg', 6: 'bird.cfg' },
  ipam: { 4: 'bird_ipam.cfg', 6: 'bird_ipam.cfg' },
  aggr: { 4: 'bird_aggr.cfg', 6: 'bird_aggr.cfg' },
  filters: { 4: 'custom_filters.cfg', 6: 'custom_filters.cfg' },
  filtersStart: { 4: 'function custom_filters_v4 ()', 6: 'function custom_filters_v6 ()' },
};

/** `token` appears in `line` as a whole address or CIDR (not inside a longer one). */
function containsToken(line: string, token: string): boolean {
  for (let at = line.indexOf(token); at >= 0; at = line.indexOf(token, at + 1)) {
    const before = line[at - 1];
    const after = line[at + token.length];
    if (
      (before === undefined || !/[0-9A-Za-z.:]/.test(before)) &&
      (after === undefined || !/[0-9A-Za-z.:/]/.test(after))
    )
      return true;
  }
  return false;
}

/**
 * Where each datastore entry's lines are in the rendered files, found in the output itself (so it holds for
 * overriding templates too): a peer's `protocol bgp NAME` block, the node's own address on `router id` and
 * `source address` lines, each pool's and block's CIDR, each custom filter's body. Keys are built from the
 * schema; one that is not in the keyspace as written (a non-canonical spelling) is simply never quarantined.
 */
export function locateEntrySpans(files: FileSet, model: NodeModel, where: SpanFiles = BIRD1_SPAN_FILES): EntrySpan[] {
  const spans: EntrySpan[] = [];
  for (const f of [4, 6] as const) {
    const family = f === 4 ? model.v4 : model.v6;
    const mainFile = where.main[f];
    const main = (files.get(mainFile) ?? '').split('\n');
    const ownKey = keys.hostAddress(model.nodeName, f);
    const routerKey = keys.hostAddress(model.nodeName, 4);
    const nodeAt = new Map<bigint, string>();
    for (const n of model.otherNodes) {
      const address = f === 4 ? n.ipv4 : n.ipv6;
      if (address) nodeAt.set(address.value, n.name);
    }
    const peerKeys = new Map<string, string>();
    const peerAlsoFrom = new Map<string, readonly string[]>();
    for (const peer of family.peers) {
      const other = peer.kind === 'mesh' ? nodeAt.get(peer.address.value) : undefined;
      const key =
        peer.kind === 'mesh'
          ? other && keys.hostAddress(other, f)
          : peer.kind === 'global'
            ? keys.globalPeer(f, peer.address.text)
            : keys.hostPeer(model.nodeName, f, peer.address.text);
      if (key) peerKeys.set(peer.protocolName, key);
      // A mesh peer's block also says its host's AS (its own as_num, else the global one).
      if (other) peerAlsoFrom.set(peer.protocolName, [keys.hostAsNumber(other), keys.globalAsNumber]);
    }
    main.forEach((line, index) => {
      const trimmed = line.trim();
      // Both families' passes see a shared main file's router id line: the same span twice, which is harmless.
      if (/^router id /.test(trimmed))
        spans.push({
          file: mainFile,
          key: routerKey,
          firstLine: index + 1,
          lastLine: index + 1,
          kind: 'entry',
        });
      else if (/^source address /.test(trimmed) && family.address && containsToken(trimmed, family.address.text))
        spans.push({
          file: mainFile,
          key: ownKey,
          firstLine: index + 1,
          lastLine: index + 1,
          kind: 'entry',
        });
      const protocol = /^protocol bgp ([A-Za-z0-9_]+)/.exec(trimmed)?.[1];
      const key = protocol === undefined ? undefined : peerKeys.get(protocol);
      if (protocol !== undefined && key) {
        let end = index;
        while (end + 1 < main.length && !/^}/.test(main[end]!)) end++;
        const alsoFrom = peerAlsoFrom.get(protocol);
        spans.push({
          file: mainFile,
          key,
          firstLine: index + 1,
          lastLine: end + 1,
          kind: 'entry',
          ...(alsoFrom && { alsoFrom }),
        });
      }
    });
    const byToken = (file: string, tokens: readonly (readonly [string, string])[]): void => {
      const lines = (files.get(file) ?? '').split('\n');
      lines.forEach((line, index) => {
        for (const [token, key] of tokens) {
          if (containsToken(line, token))
            spans.push({ file, key, firstLine: index + 1, lastLine: index + 1, kind: 'entry' });
        }
      });
    };
    byToken(
      where.ipam[f],
      family.pools.map((p) => [p.cidr.text, keys.pool(f, p.cidr.text)] as const),
    );
    byToken(
      where.aggr[f],
      family.blocks.map((b) => [b.text, keys.block(model.nodeName, f, b.text)] as const),
    );
    spans.push(...locateFilters(files, where.filters[f], family.customFilters, where.filtersStart?.[f]));
  }
  return spans;
}

function locateFilters(
  files: FileSet,
  file: string,
  filters: NodeModel['v4']['customFilters'],
  startLine: string | undefined,
): EntrySpan[] {
  const text = files.get(file) ?? '';
  const spans: EntrySpan[] = [];
  // With both families in one file, a v6 body equal to a v4 one must be found in the v6 function.
  let from = startLine === undefined ? 0 : Math.max(0, text.indexOf(startLine));
  for (const filter of filters) {
    const at = text.indexOf(filter.body, from);
    if (at < 0) continue; // an overriding template may place filters elsewhere; then the error names only the file
    const firstLine = text.slice(0, at).split('\n').length;
    const lastLine = firstLine + filter.body.split('\n').length - 1;
    spans.push({ file, key: filter.key, firstLine, lastLine, kind: 'custom-filter' });
    from = at + filter.body.length;
  }
  return spans;
}
