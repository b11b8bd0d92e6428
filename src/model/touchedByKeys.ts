import type { AddressFamily } from './address.js';
import { classifyKey } from './keys.js';

/** What a batch of changed keys touches. */
export interface Touched {
  readonly hosts: Set<string>;
  readonly explicit: Set<AddressFamily>;
  readonly reflectors: Set<AddressFamily>;
  readonly pools: Set<AddressFamily>;
  readonly blocks: Set<AddressFamily>;
  readonly customFilters: Set<AddressFamily>;
}

/** Which hosts and per-family lists of `nodeName`'s model the changed keys feed (IncrementalNodeModel). Pure. */
export function touchedBy(changed: ReadonlySet<string>, nodeName: string): Touched {
  const touched: Touched = {
    hosts: new Set(),
    explicit: new Set(),
    reflectors: new Set(),
    pools: new Set(),
    blocks: new Set(),
    customFilters: new Set(),
  };
  for (const key of changed) {
    const meaning = classifyKey(key);
    switch (meaning.kind) {
      case 'hostAddress':
      case 'hostAsNumber':
      case 'hostLogLevel':
      case 'hostNetwork':
        touched.hosts.add(meaning.host);
        break;
      case 'hostPeer':
        touched.hosts.add(meaning.host);
        if (meaning.host === nodeName) touched.explicit.add(meaning.family);
        break;
      case 'block':
        touched.hosts.add(meaning.host);
        if (meaning.host === nodeName) touched.blocks.add(meaning.family);
        break;
      case 'globalPeer':
        touched.explicit.add(meaning.family);
        break;
      case 'routeReflector':
        touched.reflectors.add(meaning.family);
        break;
      case 'pool':
        touched.pools.add(meaning.family);
        break;
      case 'customFilter':
        touched.customFilters.add(meaning.family);
        break;
      case 'globalAsNumber':
      case 'nodeMesh':
      case 'globalLogLevel':
      case 'malformed':
      case 'unknown':
        break; // global settings are compared on every build; malformed keys are listed on every build
    }
  }
  return touched;
}
