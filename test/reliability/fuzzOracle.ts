import { keys } from '../../src/model/keys.js';
import type { NodeModel } from '../../src/model/nodeModel.js';
import { DEFAULT_AS_NUMBER } from '../../src/model/nodeModel.js';
import { oracleRefusesAddress } from './addressClasses.js';
import { LEAK_MARKERS, NODE, type Family, type FuzzCase, type HostileEntry } from './fuzzCase.js';

/**
 * What a fuzz case's rendering must be, computed from the case's structure (not from the model):
 * every valid peer, pool, block and custom filter present (or, when it conflicts with another valid entry,
 * diagnosed), every hostile entry diagnosed, nothing of a hostile entry in the files.
 */

type Files = ReadonlyMap<string, string>;

const PRECEDENCE = { mesh: 1, global: 2, node: 3 } as const;
const PREFIX = { mesh: 'Mesh', global: 'Global', node: 'Node' } as const;
type Kind = keyof typeof PRECEDENCE;

interface Candidate {
  readonly key: string;
  readonly kind: Kind;
  readonly address: string;
  readonly as: number;
}

/** Last entry per key wins, as in the keyspace map. */
function byKey<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  const m = new Map<string, T>();
  for (const item of items) m.set(key(item), item);
  return m;
}

const diagnosed = (model: NodeModel, key: string, action?: string): boolean =>
  model.diagnostics.some((d) => d.key === key && (action === undefined || d.action === action));

interface RenderedPeer {
  readonly name: string;
  readonly neighbor: string;
  readonly as: number;
}

function renderedPeers(text: string): RenderedPeer[] {
  const peers: RenderedPeer[] = [];
  // A mesh session of the lower address also says `passive on;` (the other side dials).
  for (const m of text.matchAll(
    /^protocol bgp (\S+) from bgp_template \{\n {2}neighbor (\S+) as (\d+);\n(?: {2}passive on;[^\n]*\n)?\}$/gm,
  )) {
    peers.push({ name: m[1]!, neighbor: m[2]!, as: Number(m[3]) });
  }
  return peers;
}

function familyPeers(c: FuzzCase, f: Family, model: NodeModel, files: Files, problems: string[]): void {
  const own = f === 4 ? c.ownV4.canonical : c.ownV6?.canonical;
  const text = files.get(f === 4 ? 'bird.cfg' : 'bird6.cfg') ?? '';
  const rendered = renderedPeers(text);
  if (own === undefined) {
    if (rendered.length > 0 || text.includes('template bgp'))
      problems.push(`bird6.cfg has BGP although the node has no IPv6 address`);
    return;
  }
  const globalAs = c.globalAs?.value ?? DEFAULT_AS_NUMBER;
  const meshEnabled = c.mesh?.enabled ?? true;
  const candidates: Candidate[] = [];
  if (meshEnabled) {
    for (const n of c.nodes) {
      const a = f === 4 ? n.v4 : n.v6;
      if (a)
        candidates.push({
          key: keys.hostAddress(n.name, f),
          kind: 'mesh',
          address: a.canonical,
          as: n.as?.value ?? globalAs,
        });
    }
  }
  for (const [key, p] of byKey(
    c.globalPeers.filter((p) => p.family === f),
    (p) => keys.globalPeer(f, p.keyText),
  )) {
    candidates.push({ key, kind: 'global', address: p.address.canonical, as: p.as.value });
  }
  for (const [key, p] of byKey(
    c.nodePeers.filter((p) => p.family === f),
    (p) => keys.hostPeer(NODE, f, p.keyText),
  )) {
    candidates.push({ key, kind: 'node', address: p.address.canonical, as: p.as.value });
  }
  const groups = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    if (candidate.address === own) {
      if (!diagnosed(model, candidate.key, 'skipped'))
        problems.push(`${candidate.key}: peer with the node's own address ${own} has no diagnostic`);
      continue;
    }
    groups.set(candidate.address, [...(groups.get(candidate.address) ?? []), candidate]);
  }
  const expectedNames = new Set<string>();
  for (const [address, group] of groups) {
    const top = Math.max(...group.map((g) => PRECEDENCE[g.kind]));
    const winners = group.filter((g) => PRECEDENCE[g.kind] === top);
    const kind = winners[0]!.kind;
    const name = `${PREFIX[kind]}_${address.replace(/[.:]/g, '_')}`;
    expectedNames.add(name);
    const protocol = rendered.find((p) => p.name === name);
    if (!protocol) {
      problems.push(
        `v${f}: valid ${kind} peer ${address} (${winners.map((w) => w.key).join(', ')}) is missing: no protocol ${name}`,
      );
      continue;
    }
    if (protocol.neighbor !== address) problems.push(`${name}: neighbor ${protocol.neighbor}, expected ${address}`);
    if (!winners.some((w) => w.as === protocol.as))
      problems.push(`${name}: as ${protocol.as}, expected one of ${winners.map((w) => w.as).join(', ')}`);
    const overridden = group.filter((g) => diagnosed(model, g.key, 'overridden')).length;
    if (overridden !== group.length - 1)
      problems.push(
        `v${f} neighbor ${address}: ${group.length} valid entries, ${overridden} 'overridden' diagnostics (expected ${group.length - 1})`,
      );
  }
  for (const p of rendered)
    if (oracleRefusesAddress(p.neighbor, f))
      problems.push(`v${f}: ${p.name} has neighbor ${p.neighbor}, an address BIRD cannot peer with`);
  const names = rendered.map((p) => p.name);
  const unexpected = names.filter((n) => !expectedNames.has(n));
  if (unexpected.length > 0) problems.push(`v${f}: unexpected protocols ${unexpected.join(', ')}`);
  if (new Set(names).size !== names.length) problems.push(`v${f}: a protocol is rendered twice`);
}

function poolsFilter(text: string): string {
  const start = text.indexOf('filter calico_pools {');
  const end = text.indexOf('\n}\n', start);
  return start < 0 || end < 0 ? '' : text.slice(start, end);
}

const overlaps = (
  a: { network: bigint; length: number },
  b: { network: bigint; length: number },
  bits: number,
): boolean => {
  const shift = BigInt(bits - Math.min(a.length, b.length));
  return a.network >> shift === b.network >> shift;
};

function familyPools(c: FuzzCase, f: Family, model: NodeModel, files: Files, problems: string[]): void {
  const bits = f === 4 ? 32 : 128;
  const filter = poolsFilter(files.get(f === 4 ? 'bird_ipam.cfg' : 'bird6_ipam.cfg') ?? '');
  const present = new Set([...filter.matchAll(/if \( net ~ (\S+) \) then \{/g)].map((m) => m[1]!));
  const pools = byKey(
    c.pools.filter((p) => p.family === f),
    (p) => keys.pool(f, p.canonical),
  );
  const kept = [...pools.values()].filter((p) => present.has(p.canonical));
  for (const p of present)
    if (![...pools.values()].some((v) => v.canonical === p))
      problems.push(`v${f}: pool ${p} rendered but not a valid entry`);
  for (let i = 0; i < kept.length; i++) {
    for (let j = i + 1; j < kept.length; j++)
      if (overlaps(kept[i]!, kept[j]!, bits))
        problems.push(`v${f}: overlapping pools ${kept[i]!.canonical} and ${kept[j]!.canonical} both rendered`);
  }
  for (const [key, p] of pools) {
    if (p.badField && !diagnosed(model, key, 'defaulted'))
      problems.push(`${key}: bad optional field "${p.badField.name}" has no 'defaulted' diagnostic`);
    if (present.has(p.canonical)) continue;
    if (!kept.some((k) => overlaps(k, p, bits)))
      problems.push(`${key}: valid pool ${p.canonical} is missing and overlaps no rendered pool`);
    if (!diagnosed(model, key, 'skipped'))
      problems.push(`${key}: valid pool ${p.canonical} left out without a diagnostic`);
  }
}

function familyBlocks(c: FuzzCase, f: Family, model: NodeModel, files: Files, problems: string[]): void {
  const text = files.get(f === 4 ? 'bird_aggr.cfg' : 'bird6_aggr.cfg') ?? '';
  const present = [...text.matchAll(/route (\S+) blackhole;/g)].map((m) => m[1]!);
  const blocks = byKey(
    c.blocks.filter((b) => b.family === f),
    (b) => keys.block(NODE, f, b.keyText),
  );
  const expected = new Set([...blocks.values()].map((b) => b.canonical));
  if (present.length !== expected.size || present.some((p) => !expected.has(p)))
    problems.push(`v${f}: blocks rendered ${present.join(' ')}, expected ${[...expected].join(' ')}`);
  for (const canonical of expected) {
    const same = [...blocks].filter(([, b]) => b.canonical === canonical).map(([key]) => key);
    const duplicates = same.filter((key) => diagnosed(model, key, 'skipped')).length;
    if (duplicates !== same.length - 1)
      problems.push(`v${f}: block ${canonical} has ${same.length} keys and ${duplicates} diagnostics`);
  }
}

function familyFilters(c: FuzzCase, f: Family, files: Files, problems: string[]): void {
  const text = files.get(f === 4 ? 'custom_filters.cfg' : 'custom_filters6.cfg') ?? '';
  for (const [key, filter] of byKey(
    c.filters.filter((x) => x.family === f),
    (x) => keys.customFilter(f, x.name),
  )) {
    if (!text.includes(filter.body.replace(/\s+$/, '')))
      problems.push(`${key}: valid custom filter missing from the rendered file`);
  }
}

/** Valid entries: all present, or (only when they conflict with another valid entry) diagnosed as such. */
export function checkValidEntries(c: FuzzCase, model: NodeModel, files: Files): string[] {
  const problems: string[] = [];
  const routerId = /^router id (\S+);/m.exec(files.get('bird.cfg') ?? '')?.[1];
  if (routerId !== c.ownV4.canonical) problems.push(`router id ${routerId}, expected ${c.ownV4.canonical}`);
  const localAs = /^ {2}local as (\d+);/m.exec(files.get('bird.cfg') ?? '')?.[1];
  const expectedAs = c.ownAs?.value ?? c.globalAs?.value ?? DEFAULT_AS_NUMBER;
  if (Number(localAs) !== expectedAs) problems.push(`local as ${localAs}, expected ${expectedAs}`);
  for (const f of [4, 6] as const) {
    familyPeers(c, f, model, files, problems);
    familyPools(c, f, model, files, problems);
    familyBlocks(c, f, model, files, problems);
    familyFilters(c, f, files, problems);
  }
  // A diagnostic on an all-valid keyspace must be a conflict between valid entries, never a refusal; the one
  // exception is a pool's bad optional field, which costs that field ('defaulted'), not the pool.
  const badFieldPools = new Set(c.pools.filter((p) => p.badField).map((p) => keys.pool(p.family, p.canonical)));
  for (const d of model.diagnostics) {
    if (d.action === 'defaulted' && badFieldPools.has(d.key)) continue;
    if (d.action !== 'overridden' && !/own address|overlaps|listed twice/.test(d.reason))
      problems.push(`valid entry refused: ${d.key}: ${d.reason}`);
  }
  return problems;
}

/** Every hostile entry this node reads has a diagnostic naming its key. */
export function checkHostileDiagnosed(
  c: FuzzCase,
  hostile: ReadonlyMap<string, HostileEntry>,
  model: NodeModel,
): string[] {
  const problems: string[] = [];
  for (const [key, h] of hostile) {
    const must = h.diagnose === 'always' || (h.diagnose === 'if-v6' && c.ownV6 !== undefined);
    if (must && !diagnosed(model, key))
      problems.push(
        `hostile ${h.what} has no diagnostic naming ${JSON.stringify(key).slice(0, 200)} (value ${JSON.stringify(h.value).slice(0, 120)})`,
      );
  }
  return problems;
}

/** Leaks: a marker of a hostile value, a character outside printable ASCII, or an include that is not ours. */
export function findInjections(files: Files): string[] {
  const problems: string[] = [];
  for (const [name, content] of files) {
    for (const marker of LEAK_MARKERS)
      if (content.includes(marker)) problems.push(`${name} contains ${JSON.stringify(marker)}`);
    const odd = /[^\t\n\x20-\x7e]/.exec(content);
    if (odd) problems.push(`${name} contains ${JSON.stringify(odd[0])} at ${odd.index}`);
    const includes = content.match(/\binclude\s*"/gi)?.length ?? 0;
    const allowed = name === 'bird.cfg' || name === 'bird6.cfg' ? 3 : 0;
    if (includes !== allowed) problems.push(`${name} has ${includes} include statements (expected ${allowed})`);
  }
  return problems;
}

/** Hostile entries change nothing: the files equal those of the valid entries alone. */
export function compareFileSets(withHostile: Files, validOnly: Files): string[] {
  const problems: string[] = [];
  for (const [name, content] of validOnly) {
    const other = withHostile.get(name);
    if (other === content) continue;
    const a = content.split('\n');
    const b = (other ?? '').split('\n');
    const line = a.findIndex((l, i) => l !== b[i]);
    problems.push(
      `${name} differs from the valid-only rendering at line ${line + 1}: ${JSON.stringify(b[line]).slice(0, 160)} vs ${JSON.stringify(a[line]).slice(0, 160)}`,
    );
  }
  return problems;
}
