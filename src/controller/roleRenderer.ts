import { BIRD_1_6, type BirdVersion } from '../bird/birdVersion.js';
import type { IpAddress } from '../model/address.js';
import { daemonsOf, type Daemon } from '../model/daemon.js';
import { buildReflectorModel } from '../model/buildReflectorModel.js';
import { IncrementalNodeModel } from '../model/incrementalNodeModel.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { nodeKeyScope, reflectorKeyScope, type KeyScope } from '../model/keyScope.js';
import { isRelevantKey } from '../model/keys.js';
import type { Keyspace } from '../model/keyspaceIndex.js';
import type { EntrySpan, FileSet } from '../render/fileSet.js';
import type { IpipRendering } from '../render/ipipMode.js';
import {
  BIRD2_NODE_LAYOUT,
  BIRD2_REFLECTOR_LAYOUT,
  NODE_LAYOUT,
  REFLECTOR_LAYOUT,
  type Layout,
} from '../render/layouts.js';
import { renderBird2FileSet, renderBird2ReflectorFileSet } from '../render/renderBird2FileSet.js';
import { renderFileSet } from '../render/renderFileSet.js';
import { renderReflectorFileSet } from '../render/renderReflectorFileSet.js';
import type { CompiledTemplateSet } from '../render/templateSet.js';

/** What one cycle needs from rendering, whatever the role. */
export interface RenderOutcome {
  /** A file whose text is the same as in this role's previous render is that same string (compares in O(1)). */
  readonly files: FileSet;
  /**
   * Files whose text differs from this role's previous render (undefined: no previous render). The others need
   * no comparison with what was rendered before: only these can have changed since.
   */
  readonly changedFiles: ReadonlySet<string> | undefined;
  /** Where each entry's lines are (computed on demand: only a BIRD error needs it). */
  readonly spans: () => readonly EntrySpan[];
  readonly diagnostics: readonly Diagnostic[];
  /** Lines describing the result, for `render`'s summary. */
  readonly summary: readonly string[];
  /** Pools that ask for IPIP (routed natively when the installed BIRD has no krt_tunnel). */
  readonly ipipPools: number;
}

/**
 * A renderer kept by one caller that renders again and again (the run loop's cycle): it keeps what its last render
 * made, is told which keys changed since (`changedKeys`; undefined: not known, everything is built again) and names
 * the files that changed. Its state is its caller's alone: a render by anyone else would make `changedKeys`
 * (counted from the caller's last render) wrong for it (ARCHITECTURE.md, "State: who owns what").
 */
export interface RoleSession {
  render(keyspace: Keyspace, templates: CompiledTemplateSet, changedKeys?: ReadonlySet<string>): RenderOutcome;
}

/** A role: how keyspace + templates become files, and which changes can alter them. */
export interface RoleRenderer {
  /** The BIRD the files are for: its dialect picks the layout (BIRD 1.6: bird + bird6; BIRD 2/3: one bird). */
  readonly bird: BirdVersion;
  readonly layout: Layout;
  /** The daemons the layout renders a main file for: what the cycle, status, readiness and metrics iterate. */
  readonly daemons: readonly Daemon[];
  /** Renders `keyspace` from nothing: the same files whoever calls it, whenever (`render`, checks, tests). */
  render(keyspace: Keyspace, templates: CompiledTemplateSet): RenderOutcome;
  /** A renderer of the caller's own that updates only what the changed keys touch (IncrementalNodeModel). */
  session(): RoleSession;
  isRelevant(key: string): boolean;
  /** What the role reads and watches in etcd (and keeps). */
  readonly scope: KeyScope;
}

/**
 * Remembers the last render's files: a file rendered to the same text again is replaced by the earlier string
 * (one copy kept, and `===` against it is a pointer comparison), and the ones that differ are named.
 */
function fileHistory(): (files: FileSet) => { files: FileSet; changedFiles: ReadonlySet<string> | undefined } {
  let previous: FileSet | undefined;
  return (rendered) => {
    if (!previous) {
      previous = rendered;
      return { files: rendered, changedFiles: undefined };
    }
    const files = new Map<string, string>();
    const changedFiles = new Set<string>();
    for (const [name, text] of rendered) {
      const before = previous.get(name);
      if (before === text) files.set(name, before);
      else {
        files.set(name, text);
        changedFiles.add(name);
      }
    }
    for (const name of previous.keys()) if (!rendered.has(name)) changedFiles.add(name);
    previous = files;
    return { files, changedFiles };
  };
}

/** `bird`: the BIRD the files are for (its dialect and version gates); BIRD 1.6 when not given. */
export function nodeRole(nodeName: string, ipip: IpipRendering, bird: BirdVersion = BIRD_1_6): RoleRenderer {
  const bird2 = bird.dialect === 'bird2';
  const layout = bird2 ? BIRD2_NODE_LAYOUT : NODE_LAYOUT;
  const session = (): RoleSession => nodeSession(nodeName, ipip, bird);
  return {
    bird,
    layout,
    daemons: daemonsOf(layout.map((entry) => entry.file)),
    isRelevant: (key) => isRelevantKey(key, nodeName),
    scope: nodeKeyScope(nodeName),
    render: (keyspace, templates) => session().render(keyspace, templates),
    session,
  };
}

/** A node's renders in sequence: each hands the next what did not change. */
function nodeSession(nodeName: string, ipip: IpipRendering, bird: BirdVersion): RoleSession {
  const nodeModel = new IncrementalNodeModel(nodeName);
  const history = fileHistory();
  const bird2 = bird.dialect === 'bird2';
  return {
    render(keyspace, templates, changedKeys) {
      const model = nodeModel.build(keyspace, changedKeys);
      const rendered = bird2
        ? renderBird2FileSet(model, templates, { ipip, bird })
        : renderFileSet(model, templates, { ipip });
      const { files, changedFiles } = history(rendered.files);
      const family = (f: typeof model.v4) => {
        if (!f.address) return f.family === 6 ? 'IPv6 disabled (no usable ip_addr_v6)' : 'BGP disabled';
        const count = (kind: string) => f.peers.filter((p) => p.kind === kind).length;
        return `${count('mesh')} mesh, ${count('global')} global, ${count('node')} node-specific peers; ${f.pools.length} pools; ${f.blocks.length} blocks; ${f.customFilters.length} custom filters`;
      };
      return {
        files,
        changedFiles,
        spans: rendered.spans,
        diagnostics: model.diagnostics,
        ipipPools: model.v4.pools.filter((p) => p.ipipInterface !== undefined).length,
        get summary() {
          return [
            `node ${model.nodeName}: router id ${model.routerId.text}, AS ${model.asNumber}, node-to-node mesh ${model.meshEnabled ? 'on' : 'off'}, log level ${model.logLevel}`,
            ...(bird2
              ? [`  bird.cfg (IPv4): ${family(model.v4)}`, `  bird.cfg (IPv6): ${family(model.v6)}`]
              : [`  bird.cfg:  ${family(model.v4)}`, `  bird6.cfg: ${family(model.v6)}`]),
            `  skipped entries: ${model.diagnostics.length}`,
          ];
        },
      };
    },
  };
}

export interface ReflectorIdentity {
  readonly ipv4: IpAddress;
  readonly ipv6: IpAddress | undefined;
  readonly asNumber: number | undefined;
}

export function reflectorRole(identity: ReflectorIdentity, bird: BirdVersion = BIRD_1_6): RoleRenderer {
  const bird2 = bird.dialect === 'bird2';
  const layout = bird2 ? BIRD2_REFLECTOR_LAYOUT : REFLECTOR_LAYOUT;
  const session = (): RoleSession => reflectorSession(identity, bird2);
  return {
    bird,
    layout,
    daemons: daemonsOf(layout.map((entry) => entry.file)),
    // Every node's address and peers decide who the clients are.
    isRelevant: (key) => !key.includes('/block/'),
    scope: reflectorKeyScope(),
    render: (keyspace, templates) => session().render(keyspace, templates),
    session,
  };
}

/** A reflector's renders in sequence: the model is built whole each time; the files that changed are named. */
function reflectorSession(identity: ReflectorIdentity, bird2: boolean): RoleSession {
  const history = fileHistory();
  return {
    render(keyspace, templates) {
      const model = buildReflectorModel(keyspace, identity);
      const rendered = bird2 ? renderBird2ReflectorFileSet(model, templates) : renderReflectorFileSet(model, templates);
      const { files, changedFiles } = history(rendered.files);
      const count = (f: typeof model.v4, kind: string) => f.sessions.filter((s) => s.kind === kind).length;
      return {
        files,
        changedFiles,
        spans: rendered.spans,
        diagnostics: model.diagnostics,
        ipipPools: 0,
        summary: [
          `route reflector ${model.routerId.text}: AS ${model.asNumber}`,
          `  ${bird2 ? 'bird.cfg (IPv4):' : 'bird.cfg: '} ${count(model.v4, 'reflector')} reflectors, ${count(model.v4, 'client')} clients`,
          `  ${bird2 ? 'bird.cfg (IPv6):' : 'bird6.cfg:'} ${model.v6.address ? `${count(model.v6, 'reflector')} reflectors, ${count(model.v6, 'client')} clients` : 'IPv6 disabled'}`,
          `  skipped entries: ${model.diagnostics.length}`,
        ],
      };
    },
  };
}
