import fc from 'fast-check';
import t from 'tap';
import { summarizeConfigChange } from '../../src/controller/diffSummary.js';
import { StatementMemo } from '../../src/render/statementMemo.js';

/**
 * The run loop classifies each change from the statement delta the memo found (only the statements between the
 * shared head and tail of the live file and the rendering): after any sequence of BIRD-config-like edits, that
 * gives exactly the summary a full comparison gives.
 */
interface Item {
  readonly id: number;
  readonly kind: 'peer' | 'filter' | 'comment';
  readonly as: number;
}
const text = (i: Item): string =>
  i.kind === 'peer'
    ? `protocol bgp Mesh_10_0_0_${i.id} from bgp_template {\n  neighbor 10.0.0.${i.id} as ${i.as};\n}\n\n`
    : i.kind === 'filter'
      ? `filter f${i.id} {\n  if net ~ 10.${i.as % 250}.0.0/16 then accept;\n  reject;\n}\n`
      : `# comment ${i.id} ${i.as}\n`;
const render = (items: readonly Item[], routerId: number): string =>
  `router id 10.0.0.${routerId};\ntemplate bgp bgp_template { local as 64511; }\n${items.map(text).join('')}`;

const edit = fc.oneof(
  fc.record({
    op: fc.constant('add' as const),
    kind: fc.constantFrom('peer' as const, 'filter' as const, 'comment' as const),
    at: fc.nat(),
  }),
  fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('change' as const), at: fc.nat(), as: fc.integer({ min: 1, max: 65000 }) }),
  fc.record({ op: fc.constant('router' as const), as: fc.integer({ min: 1, max: 250 }) }),
);

t.test('the delta gives the summary a full comparison gives', async (t) => {
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 8 }), (edits) => {
      let next = 100;
      let items: Item[] = Array.from({ length: 6 }, (_, i) => ({
        id: i + 1,
        kind: i % 3 === 2 ? 'filter' : 'peer',
        as: 64512,
      }));
      let routerId = 1;
      const memo = new StatementMemo();
      let live = new Map([['bird.cfg', render(items, routerId)]]);
      memo.statements('bird.cfg', live.get('bird.cfg')!);
      for (const e of edits) {
        items = [...items];
        if (e.op === 'add') items.splice(e.at % (items.length + 1), 0, { id: next++, kind: e.kind, as: 64512 });
        else if (e.op === 'remove' && items.length > 0) items.splice(e.at % items.length, 1);
        else if (e.op === 'change' && items.length > 0) {
          const at = e.at % items.length;
          items[at] = { ...items[at]!, as: e.as };
        } else if (e.op === 'router') routerId = e.as;
        const rendered = new Map([['bird.cfg', render(items, routerId)]]);
        const full = summarizeConfigChange(live, rendered);
        const fromDelta = summarizeConfigChange(live, rendered, memo);
        const norm = (c: typeof full) =>
          c.daemons.map((d) => ({
            ...d,
            added: [...d.added].sort(),
            removed: [...d.removed].sort(),
            changed: [...d.changed].sort(),
            shared: [...d.shared].sort(),
          }));
        if (JSON.stringify(norm(full)) !== JSON.stringify(norm(fromDelta)))
          throw new Error(`differs: full ${JSON.stringify(norm(full))} delta ${JSON.stringify(norm(fromDelta))}`);
        live = rendered;
      }
    }),
    { numRuns: 300 },
  );
  t.pass('300 random edit sequences');
});

t.test('the delta is used: only the statements between the shared head and tail', async (t) => {
  const memo = new StatementMemo();
  const items = Array.from({ length: 50 }, (_, i): Item => ({ id: i + 1, kind: 'peer', as: 64512 }));
  const before = render(items, 1);
  memo.statements('bird.cfg', before);
  const after = render([...items.slice(0, 25), { id: 99, kind: 'peer', as: 64512 }, ...items.slice(25)], 1);
  const delta = memo.delta('bird.cfg', before, after);
  t.ok(delta, 'a delta for a rendering parsed from the live file');
  t.ok(
    delta!.added.length <= 3 && delta!.removed.length <= 2,
    `small: +${delta!.added.length} −${delta!.removed.length}`,
  );
  t.same(
    summarizeConfigChange(new Map([['bird.cfg', before]]), new Map([['bird.cfg', after]]), memo).daemons[0]!.added,
    ['Mesh_10_0_0_99'],
  );
  t.equal(memo.delta('bird.cfg', 'something else', after), undefined, 'no delta from content it was not parsed from');
});
