import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { loadTemplateSources } from '../src/render/templateSources.js';
import { validateStagedFileSet } from '../src/controller/validateStaged.js';
import { buildNodeModel } from '../src/model/buildNodeModel.js';
import { checkCustomFilterBody } from '../src/model/customFilter.js';
import { NodeConfigError } from '../src/model/errors.js';
import { keys } from '../src/model/keys.js';
import { parseNodeName } from '../src/model/names.js';
import { renderFileSet } from '../src/render/renderFileSet.js';
import { compileTemplateSet } from '../src/render/templateSet.js';
import { oracleRefusesAddress, specialAddressArb } from './reliability/addressClasses.js';
import { BirdBatch } from './reliability/birdBatch.js';
import {
  FRAGMENTS,
  fuzzCaseArb,
  hostileText,
  landedHostile,
  NODE,
  validEntries,
  type FuzzCase,
} from './reliability/fuzzCase.js';
import { checkHostileDiagnosed, checkValidEntries, compareFileSets, findInjections } from './reliability/fuzzOracle.js';
import { fileTimeoutMs, size } from './reliability/size.js';
import { recordRow } from './reliability/summary.js';

/**
 * Hostile and broken data, seeded: random and mutated values in every key of the keyspace, mixed with valid
 * entries, rendered with the real templates; every rendering is checked by the real bird -p / bird6 -p.
 * BIRDWATCH_FUZZ_SEED picks another seed; BIRDWATCH_SOAK=1 runs the full 10,000 cases.
 */
const SEED = Number(process.env['BIRDWATCH_FUZZ_SEED'] ?? 20240607);
const CASES = size(400, 10_000);
const FILTER_CASES = size(150, 2_000);
t.setTimeout(fileTimeoutMs(170_000, 1_800_000));

const templates = compileTemplateSet(await loadTemplateSources());
const work = mkdtempSync(join(tmpdir(), 'birdwatch-fuzz-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** Keeps a failing case (its keyspace and files) outside the temp dir, for the report. */
function keepCase(name: string, c: unknown, files: ReadonlyMap<string, string>): string {
  const dir = join(tmpdir(), `birdwatch-fuzz-failure-${SEED}-${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'case.json'),
    JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v), 2),
  );
  for (const [file, content] of files) writeFileSync(join(dir, file), content);
  return dir;
}

t.test(
  `hostile keyspace values: seed ${SEED}, ${CASES} cases, every rendering checked by bird -p/bird6 -p`,
  async (t) => {
    const started = performance.now();
    const batch = new BirdBatch(join(work, 'bird'), Math.max(2, availableParallelism() * 2));
    let cases = 0;
    let diagnostics = 0;
    let hostileEntries = 0;
    let injections = 0;
    let duplicatePeers = 0;
    let overlappingPools = 0;
    let failed = false;
    const sampleCases = new Map<number, FuzzCase>();
    try {
      await fc.assert(
        fc.asyncProperty(fuzzCaseArb, async (c) => {
          const valid = validEntries(c);
          const hostile = landedHostile(c, valid);
          const all = new Map(valid);
          for (const [key, h] of hostile) all.set(key, h.value);
          const modelAll = buildNodeModel(all, { nodeName: NODE });
          const modelValid = buildNodeModel(valid, { nodeName: NODE });
          const filesAll = renderFileSet(modelAll, templates, { ipip: c.ipip }).files;
          const filesValid = renderFileSet(modelValid, templates, { ipip: c.ipip }).files;
          const leaks = findInjections(filesAll);
          const problems = [
            ...leaks,
            ...compareFileSets(filesAll, filesValid),
            ...checkHostileDiagnosed(c, hostile, modelAll),
            ...checkValidEntries(c, modelValid, filesValid),
          ];
          if (problems.length > 0) {
            if (!failed) keepCase('property', { valid: [...valid], hostile: [...hostile] }, filesAll);
            failed = true;
            throw new Error(problems.slice(0, 12).join('\n'));
          }
          if (failed) return; // shrinking: the counts and bird checks are for the first pass only
          const id = cases++;
          if (leaks.length > 0) injections++;
          diagnostics += modelAll.diagnostics.length;
          hostileEntries += hostile.size;
          duplicatePeers += modelValid.diagnostics.filter((d) => d.action === 'overridden').length;
          overlappingPools += modelValid.diagnostics.filter((d) => d.reason.includes('overlaps')).length;
          if (id < 3) sampleCases.set(id, c);
          await batch.submit(String(id), filesAll, { declareKrtTunnel: c.ipip === 'krt-tunnel' });
        }),
        { seed: SEED, numRuns: CASES, endOnFailure: false },
      );
    } catch (error) {
      t.fail(
        `property failed (seed ${SEED}; case kept under ${tmpdir()}/birdwatch-fuzz-failure-${SEED}-property):\n${(error as Error).message.slice(0, 4000)}\n${String((error as Error).cause ?? '').slice(0, 4000)}`,
      );
    }
    await batch.drain();
    const validConfigs = batch.checked - batch.failures.length;
    const first = batch.failures[0];
    if (first)
      t.fail(
        `bird -p rejected ${batch.failures.length} renderings; first (case ${first.caseId}, kept in ${keepCase(`bird-${first.caseId}`, {}, first.files)}):\n${first.errors.join('\n')}`,
      );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const line = `${cases} cases, ${validConfigs} valid configs, ${injections} injections, ${diagnostics} diagnostics`;
    t.comment(
      `seed ${SEED}: ${line} (${hostileEntries} hostile entries, ${duplicatePeers} duplicate peers, ${overlappingPools} overlapping pools among the valid ones; ${batch.checked * 2} bird -p runs; ${seconds} s)`,
    );
    t.equal(cases, CASES, 'every case ran');
    t.equal(validConfigs, cases, 'every rendering passes bird -p and bird6 -p');
    t.equal(injections, 0, 'no injected fragment in any rendering');
    t.ok(hostileEntries > cases, `hostile entries were generated (${hostileEntries})`);
    recordRow(t, {
      scenario: 'fuzz: hostile keyspace values',
      result: !failed && batch.failures.length === 0 ? 'pass' : 'FAIL',
      detail: `seed ${SEED}: ${line}; ${seconds} s`,
    });
    batch.remove();
  },
);

/**
 * Custom filters are raw BIRD by design. Arbitrary bodies made of BIRD tokens and hostile fragments: the
 * lexical check refuses any that would leave custom_filters(); what it accepts, BIRD either accepts, or
 * rejects with an error inside custom_filters.cfg that the cycle attributes to the filter's key.
 */
const TOKENS = [
  'if net ~ 10.9.0.0/16 then reject;',
  'accept;',
  'reject;',
  '{',
  '}',
  '"str"',
  '# c\n',
  '/* c */',
  'if',
  'then',
  'net ~',
  '10.0.0.0/8',
  '\n',
  ' ',
  'print "x";',
  'bgp_path.len > 3',
  ';',
  '(',
  ')',
  'else',
  'case net { 10.0.0.0/8: reject; }',
  'include',
  'protocol static x { }',
  'function',
  'x = 1;',
  '"',
  '/*',
  '*/',
];
const bodyArb = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...TOKENS) },
      { weight: 1, arbitrary: fc.constantFrom(...FRAGMENTS) },
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((parts) => parts.join(' '));

t.test(
  `arbitrary custom filter bodies stay inside custom_filters(): seed ${SEED}, ${FILTER_CASES} cases`,
  async (t) => {
    const base = new Map([
      [keys.hostAddress(NODE, 4), '10.0.0.1'],
      [keys.hostAddress(NODE, 6), 'fd00::1'],
      [keys.hostAddress('n2', 4), '10.0.0.2'],
    ]);
    const staged = join(work, 'filters');
    mkdirSync(staged, { recursive: true });
    let refused = 0;
    let birdAccepted = 0;
    let birdRejected = 0;
    const outsideFile: string[] = [];
    const unattributed: string[] = [];
    const bodies = fc.sample(bodyArb, { seed: SEED, numRuns: FILTER_CASES });
    for (const [i, body] of bodies.entries()) {
      if (!checkCustomFilterBody(body).ok) {
        refused++;
        continue;
      }
      const key = keys.customFilter(4, `fuzz${i}`);
      const keyspace = new Map(base).set(key, body);
      const model = buildNodeModel(keyspace, { nodeName: NODE });
      const rendered = renderFileSet(model, templates, { ipip: 'off' });
      for (const [name, content] of rendered.files) writeFileSync(join(staged, name), content);
      const failure = await validateStagedFileSet(staged, rendered.spans, { bird: 'bird', bird6: 'bird6' });
      if (!failure) {
        birdAccepted++;
        continue;
      }
      birdRejected++;
      if (failure.file !== 'custom_filters.cfg')
        outsideFile.push(`${JSON.stringify(body)} → ${failure.file}:${failure.line} ${failure.message}`);
      else if (failure.entryKey !== key)
        unattributed.push(`${JSON.stringify(body)} → ${failure.file}:${failure.line} ${failure.message}`);
    }
    t.comment(
      `${bodies.length} bodies: ${refused} refused by the lexical check, ${birdAccepted} accepted by BIRD, ${birdRejected} rejected by BIRD (${unattributed.length} of them not attributed to the key)`,
    );
    t.same(outsideFile, [], 'a BIRD error caused by an accepted filter body is always inside custom_filters.cfg');
    t.ok(refused > 0 && birdAccepted > 0 && birdRejected > 0, 'the sample covers all three outcomes');
    // Known gap (see README, Reliability): an incomplete last statement (`if … then` at the end of a body) is
    // reported by BIRD on the line of the closing brace, one line after the filter's span, so the error names
    // only custom_filters.cfg, not the key. The fix belongs in src/controller/validateStaged.ts.
    t.test('every BIRD error in an accepted body names the custom filter key', async (t) => {
      t.same(unattributed.slice(0, 5), [], `${unattributed.length} unattributed errors`);
    });
    recordRow(t, {
      scenario: 'fuzz: arbitrary custom filter bodies',
      result: outsideFile.length > 0 ? 'FAIL' : unattributed.length > 0 ? 'FAIL' : 'pass',
      detail: `${bodies.length} bodies: ${refused} refused, ${birdAccepted} BIRD-valid, ${birdRejected} BIRD-invalid, ${unattributed.length} not attributed to their key`,
    });
  },
);

/** IPv4 addresses the oracle's own classifier says BIRD cannot use as a router id / source / neighbor. */
const unusableV4 = specialAddressArb
  .filter((a) => a.family === 4 && oracleRefusesAddress(a.text, 4))
  .map((a) => a.text);

t.test(
  'a hostile own ip_addr_v4 or node name: the node cannot be configured, and the error names the key',
  async (t) => {
    let checked = 0;
    fc.assert(
      fc.property(
        fc.oneof(hostileText('10.0.0.1'), unusableV4),
        fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), hostileText('me')),
        (address, name) => {
          checked++;
          const keyspace = new Map([[keys.hostAddress(NODE, 4), address]]);
          let error: unknown;
          try {
            buildNodeModel(keyspace, { nodeName: NODE });
          } catch (e) {
            error = e;
          }
          if (!(error instanceof NodeConfigError) || error.key !== keys.hostAddress(NODE, 4))
            throw new Error(`hostile ip_addr_v4 ${JSON.stringify(address)}: ${String(error)}`);
          if (parseNodeName(name).ok) return;
          try {
            buildNodeModel(new Map([[keys.hostAddress(name, 4), '10.0.0.1']]), { nodeName: name });
            throw new Error(`node name ${JSON.stringify(name)} was accepted`);
          } catch (e) {
            if (!(e instanceof NodeConfigError) || e.key !== keys.hostDir(name)) throw e;
          }
        },
      ),
      { seed: SEED, numRuns: size(300, 3_000) },
    );
    t.pass(`${checked} hostile router ids and node names refused with the key named`);
  },
);

t.test(
  'an own ip_addr_v4 of a class BIRD can use (however odd) configures the node; an unusable one names the key',
  async (t) => {
    let usable = 0;
    let unusable = 0;
    fc.assert(
      fc.property(
        specialAddressArb.filter((a) => a.family === 4),
        (a) => {
          const keyspace = new Map([[keys.hostAddress(NODE, 4), a.text]]);
          if (oracleRefusesAddress(a.text, 4)) {
            unusable++;
            try {
              buildNodeModel(keyspace, { nodeName: NODE });
            } catch (e) {
              if (e instanceof NodeConfigError && e.key === keys.hostAddress(NODE, 4)) return;
              throw e;
            }
            throw new Error(`own ip_addr_v4 ${a.text} was accepted`);
          }
          usable++;
          const model = buildNodeModel(keyspace, { nodeName: NODE });
          if (model.routerId.text !== a.canonical)
            throw new Error(`router id ${model.routerId.text}, expected ${a.canonical}`);
        },
      ),
      { seed: SEED, numRuns: size(300, 3_000) },
    );
    t.ok(usable > 0 && unusable > 0, `${usable} usable and ${unusable} unusable own addresses checked`);
  },
);
