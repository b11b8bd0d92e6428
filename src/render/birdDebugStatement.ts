import type { BirdLogLevel } from '../model/birdLogLevel.js';

/** The BIRD statement for each level, in the `bgp_template` (and the reflector's template). */
export const BIRD_DEBUG_STATEMENT: Readonly<Record<BirdLogLevel, string>> = {
  debug: 'debug all;',
  none: '',
  info: 'debug { states };',
};
