import fc from 'fast-check';
import t from 'tap';
import { parseIPv4 } from '../../src/model/address.js';

// parseIPv4 scans by hand (it runs once per node on every render); it must accept exactly what this regular
// expression — its former implementation — accepts, with the same value.
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const reference = (text: string): bigint | undefined =>
  DOTTED_QUAD.test(text) ? text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n) : undefined;

const check = (text: string): boolean => {
  const parsed = parseIPv4(text);
  const expected = reference(text);
  return parsed.ok ? parsed.value.value === expected && parsed.value.text === text : expected === undefined;
};

t.test('parseIPv4 accepts exactly the dotted quads the reference expression accepts', async (t) => {
  const octet = fc.oneof(
    fc.integer({ min: 0, max: 300 }).map(String),
    fc.stringMatching(/^[0-9]{1,4}$/),
    fc.constantFrom('', '00', '01', '099', '256', '1e1', ' 1', '1 ', '+1', '-1'),
  );
  const quads = fc.array(octet, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.'));
  const noisy = fc.tuple(quads, fc.constantFrom('', '\n', ' ', '.', ';', '\u0000', '٣')).map(([q, tail]) => q + tail);
  const chars = fc.string({ unit: fc.constantFrom(...'0123456789.0123456789. x:\n'.split('')), maxLength: 20 });
  fc.assert(fc.property(fc.oneof(quads, noisy, chars), check), { numRuns: 20_000 });
  for (const text of [
    '0.0.0.0',
    '255.255.255.255',
    '10.0.0.1',
    '1.2.3.4',
    '256.0.0.1',
    '1.2.3',
    '1.2.3.4.',
    '.1.2.3.4',
    '1..2.3',
    '1.2.3.04',
    '1.2.3.4\n',
  ]) {
    t.ok(check(text), JSON.stringify(text));
  }
});
