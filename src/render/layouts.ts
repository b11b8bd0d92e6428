/** Which template renders which output file, per role; order = swap order (includes first). */
interface LayoutEntry {
  readonly file: string;
  readonly template: string;
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

export const NODE_LAYOUT: Layout = NODE_FILES.map((file) => ({ file, template: `${file}.hbs` }));

export const REFLECTOR_LAYOUT: Layout = [
  { file: 'bird.cfg', template: 'reflector/bird.cfg.hbs' },
  { file: 'bird6.cfg', template: 'reflector/bird6.cfg.hbs' },
];
