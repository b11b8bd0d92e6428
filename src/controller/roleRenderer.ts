import type { IpAddress } from '../model/address.js';
import { buildNodeModel } from '../model/buildNodeModel.js';
import { buildReflectorModel } from '../model/buildReflectorModel.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { nodeKeyScope, reflectorKeyScope, type KeyScope } from '../model/keyScope.js';
import { isRelevantKey } from '../model/keys.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import type { EntrySpan, FileSet } from '../render/fileSet.js';
import type { IpipRendering } from '../render/ipipMode.js';
import { NODE_LAYOUT, REFLECTOR_LAYOUT, type Layout } from '../render/layouts.js';
import { renderFileSet } from '../render/renderFileSet.js';
import { renderReflectorFileSet } from '../render/renderReflectorFileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';

/** What one cycle needs from rendering, whatever the role. */
export interface RenderOutcome {
  readonly files: FileSet;
  /** Where each entry's lines are (computed on demand: only a BIRD error needs it). */
  readonly spans: () => readonly EntrySpan[];
  readonly diagnostics: readonly Diagnostic[];
  /** Lines describing the result, for `render`'s summary. */
  readonly summary: readonly string[];
  /** Pools that ask for IPIP (routed natively when the installed BIRD has no krt_tunnel). */
  readonly ipipPools: number;
}

/** A role: how keyspace + templates become files (pure), and which changes can alter them. */
export interface RoleRenderer {
  readonly layout: Layout;
  render(keyspace: Keyspace, templates: CompiledTemplateSet): RenderOutcome;
  isRelevant(key: string): boolean;
  /** What the role reads and watches in etcd (and keeps). */
  readonly scope: KeyScope;
}

export function nodeRole(nodeName: string, ipip: IpipRendering): RoleRenderer {
  return {
    layout: NODE_LAYOUT,
    isRelevant: (key) => isRelevantKey(key, nodeName),
    scope: nodeKeyScope(nodeName),
    render(keyspace, templates) {
      const model = buildNodeModel(keyspace, { nodeName });
      const rendered = renderFileSet(model, templates, { ipip });
      const family = (f: typeof model.v4) => {
        if (!f.address) return f.family === 6 ? 'IPv6 disabled (no usable ip_addr_v6)' : 'BGP disabled';
        const count = (kind: string) => f.peers.filter((p) => p.kind === kind).length;
        return `${count('mesh')} mesh, ${count('global')} global, ${count('node')} node-specific peers; ${f.pools.length} pools; ${f.blocks.length} blocks; ${f.customFilters.length} custom filters`;
      };
      return {
        files: rendered.files,
        spans: rendered.spans,
        diagnostics: model.diagnostics,
        ipipPools: model.v4.pools.filter((p) => p.ipipInterface !== undefined).length,
        summary: [
          `node ${model.nodeName}: router id ${model.routerId.text}, AS ${model.asNumber}, node-to-node mesh ${model.meshEnabled ? 'on' : 'off'}, log level ${model.logLevel}`,
          `  bird.cfg:  ${family(model.v4)}`,
          `  bird6.cfg: ${family(model.v6)}`,
          `  skipped entries: ${model.diagnostics.length}`,
        ],
      };
    },
  };
}

export interface ReflectorIdentity {
  readonly ipv4: IpAddress;
  readonly ipv6: IpAddress | undefined;
  readonly asNumber: number | undefined;
}

export function reflectorRole(identity: ReflectorIdentity): RoleRenderer {
  return {
    layout: REFLECTOR_LAYOUT,
    // Every node's address and peers decide who the clients are.
    isRelevant: (key) => !key.includes('/block/'),
    scope: reflectorKeyScope(),
    render(keyspace, templates) {
      const model = buildReflectorModel(keyspace, identity);
      const rendered = renderReflectorFileSet(model, templates);
      const count = (f: typeof model.v4, kind: string) => f.sessions.filter((s) => s.kind === kind).length;
      return {
        files: rendered.files,
        spans: rendered.spans,
        diagnostics: model.diagnostics,
        ipipPools: 0,
        summary: [
          `route reflector ${model.routerId.text}: AS ${model.asNumber}`,
          `  bird.cfg:  ${count(model.v4, 'reflector')} reflectors, ${count(model.v4, 'client')} clients`,
          `  bird6.cfg: ${model.v6.address ? `${count(model.v6, 'reflector')} reflectors, ${count(model.v6, 'client')} clients` : 'IPv6 disabled'}`,
          `  skipped entries: ${model.diagnostics.length}`,
        ],
      };
    },
  };
}
