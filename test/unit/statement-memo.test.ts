import fc from 'fast-check';
import t from 'tap';
import { splitStatements, tokenizeStatements, type RawStatement } from '../../src/render/configBlocks.js';
import { reparse, StatementMemo } from '../../src/render/statementMemo.js';

/**
 * The incremental tokenizer against the full one: after any edit of any file made of BIRD-like pieces (blocks,
 * comments, strings with braces and semicolons inside, a `}` followed by spaces and a `;`), reparsing from the
 * old parse gives exactly the statements — and the boundaries — a full parse gives.
 */
const pieces = [
  'protocol bgp Mesh_10_0_0_1 from bgp_template {\n  neighbor 10.0.0.1 as 64511;\n}\n',
  'protocol bgp Mesh_10_0_0_2 from bgp_template {\n  neighbor 10.0.0.2 as 64512;\n  passive on;\n}\n',
  'router id 10.0.0.9;\n',
  '# a comment with { and ; inside\n',
  '/* a C comment } ; */\n',
  'filter f { if net ~ 10.0.0.0/8 then accept; reject; }\n',
  'template bgp bgp_template {\n  description "Connection { ; to peer";\n}\n',
  '}',
  '{',
  ';',
  ' ',
  '\n',
  '  ;\n',
  '"',
  '#',
  '/*',
  '*/',
  'include "bird_aggr.cfg";\n',
];
const file = fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((p) => p.join(''));
const edit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 40 }),
  insert: fc.array(fc.constantFrom(...pieces), { maxLength: 3 }).map((p) => p.join('')),
});
const applyEdit = (source: string, e: { at: number; remove: number; insert: string }): string => {
  const at = source.length === 0 ? 0 : e.at % (source.length + 1);
  return source.slice(0, at) + e.insert + source.slice(at + e.remove);
};
const full = (source: string) => tokenizeStatements(source, 0, undefined).raws;
const boundaries = (raws: readonly { start: number; end: number }[]) =>
  raws.map((r) => `${r.start}-${r.end}`).join(',');

t.test('reparse after an edit gives what a full parse gives', async (t) => {
  fc.assert(
    fc.property(file, fc.array(edit, { minLength: 1, maxLength: 4 }), (source, edits) => {
      let base: { source: string; raws: readonly RawStatement[] } = { source, raws: full(source) };
      for (const e of edits) {
        const next = applyEdit(base.source, e);
        const incremental = reparse(base, next);
        t.same(incremental.statements, splitStatements(next));
        // Boundaries match too (a trailing empty statement at the very end may be left out), so the next reparse holds.
        const want = full(next).filter((r) => r.statement || r.end < next.length);
        const got = incremental.raws.filter((r) => r.statement || r.end < next.length);
        if (boundaries(got) !== boundaries(want)) throw new Error(`boundaries differ for ${JSON.stringify(next)}`);
        base = { source: next, raws: incremental.raws };
      }
    }),
    { numRuns: 500 },
  );
  t.pass('500 random edit sequences');
});

t.test('the memo: the same content is a hit; a new content is parsed from the last one', async (t) => {
  const memo = new StatementMemo();
  const a = pieces[0]! + pieces[1]! + pieces[2]!;
  const b = pieces[0]! + pieces[1]!.replace('64512', '64513') + pieces[2]!;
  const first = memo.statements('bird.cfg', a);
  t.equal(memo.statements('bird.cfg', `${a}`), first, 'a hit returns the same parse');
  const second = memo.statements('bird.cfg', b);
  t.same(second, splitStatements(b));
  t.equal(second[0], first[0], 'the unchanged first statement is reused, not re-tokenized');
  t.not(second[1], first[1]);
  t.equal(second[2], first[2], 'the unchanged last statement is reused too');
  t.same(memo.statements('bird6.cfg', b), splitStatements(b), 'files are kept apart');
});
