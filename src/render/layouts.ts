/**
 * Which template renders which output file, per role and dialect; order = swap order (includes first). `partials`
 * is the directory whose `<name>.hbs` files the entry's `{{> name}}` calls (default `partials/`).
 */
interface LayoutEntry {
  readonly file: string;
  readonly template: string;
  readonly partials?: string;
}
export type Layout = readonly LayoutEntry[];

const NODE_FILES = [
  'bird_aggr.cfg',
  'custom_filters.cfg',
  'bird_ipam.cfg',
  'bird6_aggr.cfg',
  'custom_filters6.cfg',
  'bird6_ipam.cfg',
  'bird.cfg',
  'bird6.cfg',
] as const;

/** BIRD 1.6: `bird.cfg` and `bird6.cfg` (one per daemon), each with its three includes. */
export const NODE_LAYOUT: Layout = NODE_FILES.map((file) => ({ file, template: `${file}.hbs` }));

export const REFLECTOR_LAYOUT: Layout = [
  { file: 'bird.cfg', template: 'reflector/bird.cfg.hbs' },
  { file: 'bird6.cfg', template: 'reflector/bird6.cfg.hbs' },
];

/**
 * BIRD 2 and 3: one daemon, one `bird.cfg` for both families with the same three includes, each holding both
 * families. No file name has BIRD 1.6's `6` (fileSet.ts daemonOf): every file is the one daemon's.
 */
export const BIRD2_NODE_LAYOUT: Layout = ['bird_aggr.cfg', 'custom_filters.cfg', 'bird_ipam.cfg', 'bird.cfg'].map(
  (file) => ({ file, template: `bird2/${file}.hbs`, partials: 'bird2/partials/' }),
);

/** BIRD 2 and 3's route reflector: one `bird.cfg`. */
export const BIRD2_REFLECTOR_LAYOUT: Layout = [
  { file: 'bird.cfg', template: 'bird2/reflector/bird.cfg.hbs', partials: 'bird2/partials/' },
];
