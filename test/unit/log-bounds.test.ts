import t from 'tap';
import { formatConfigChange, MAX_LOGGED_PROTOCOLS } from '../../src/controller/diffSummary.js';

t.test('a cycle adding 20,000 sessions logs a count and the first few names, not every name', async (t) => {
  const added = Array.from({ length: 20_000 }, (_, i) => `Mesh_10_${i >> 16}_${(i >> 8) & 255}_${i & 255}`);
  const line = formatConfigChange({
    daemons: [{ daemon: 'bird', initial: false, added, removed: ['Global_10_9_9_9'], changed: [], shared: [] }],
  });
  t.ok(line.length < 400, `bounded (${line.length} chars)`);
  t.match(line, /^\+Mesh_10_0_0_0 \+Mesh_10_0_0_1 /);
  t.equal(line.split(' ').filter((w) => /^[+−~]/.test(w)).length, MAX_LOGGED_PROTOCOLS);
  t.match(line, /… \(bird: 20000 added, 1 removed, 0 changed\)$/);
  // A small change is named in full, as before.
  t.equal(
    formatConfigChange({
      daemons: [
        {
          daemon: 'bird',
          initial: false,
          added: ['Mesh_10_0_0_5'],
          removed: ['Global_10_0_0_9'],
          changed: [],
          shared: [],
        },
      ],
    }),
    '+Mesh_10_0_0_5 −Global_10_0_0_9',
  );
});
