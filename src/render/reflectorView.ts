import type { ReflectorFamily, ReflectorModel } from '../model/reflectorModel.js';
import { BIRD_DEBUG_STATEMENT } from './birdDebugStatement.js';

export interface ReflectorView {
  readonly routerId: string;
  readonly logging: string;
  readonly v4: ReflectorFamilyView;
  readonly v6: ReflectorFamilyView;
}

interface ReflectorFamilyView {
  readonly enabled: boolean;
  readonly sourceAddress: string;
  readonly reflectors: readonly SessionView[];
  readonly clients: readonly SessionView[];
}

interface SessionView {
  readonly name: string;
  readonly neighbor: string;
  readonly localAs: number;
  readonly asNumber: number;
  /** iBGP with a client: `rr client` (BIRD refuses it on an eBGP session, which is then a plain peer). */
  readonly rrClient: boolean;
  readonly clusterId: string;
  readonly passive: boolean;
}

function familyView(family: ReflectorFamily): ReflectorFamilyView {
  const sessions = (kind: 'reflector' | 'client'): SessionView[] =>
    family.sessions
      .filter((s) => s.kind === kind)
      .map((s) => ({
        name: s.protocolName,
        neighbor: s.address.text,
        localAs: s.localAsNumber,
        asNumber: s.asNumber,
        rrClient: s.kind === 'client' && s.asNumber === s.localAsNumber,
        clusterId: s.clusterId ?? '',
        passive: s.passive,
      }));
  return {
    enabled: family.address !== undefined,
    sourceAddress: family.address?.text ?? '',
    reflectors: sessions('reflector'),
    clients: sessions('client'),
  };
}

export const buildReflectorView = (model: ReflectorModel): ReflectorView => ({
  routerId: model.routerId.text,
  logging: BIRD_DEBUG_STATEMENT[model.logLevel],
  v4: familyView(model.v4),
  v6: familyView(model.v6),
});
