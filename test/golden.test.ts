import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { listScenarios, loadScenario } from './support/fixtures.js';
import { birdAccepts } from './support/birdCheck.js';
import { renderGoldenFiles, VARIANTS } from './support/goldens.js';

// Goldens are regenerated only on purpose (`npm run goldens`); this test compares and never writes.
const scenarios = listScenarios();
t.ok(scenarios.length >= 15, `found ${scenarios.length} scenarios`);

for (const name of scenarios) {
  t.test(name, async (t) => {
    const scenario = loadScenario(name);
    for (const variant of VARIANTS) {
      const dir = join(scenario.dir, variant.dir);
      if (!existsSync(dir)) {
        t.not(variant.ipip, 'off', 'every scenario has a plain golden directory');
        continue;
      }
      const expected = new Map(readdirSync(dir).map((file) => [file, readFileSync(join(dir, file), 'utf8')]));
      const actual = await renderGoldenFiles(scenario, variant.ipip);
      t.same([...actual.keys()].sort(), [...expected.keys()].sort(), `${variant.dir}: same file list`);
      for (const [file, content] of expected)
        t.equal(actual.get(file), content, `${variant.dir}/${file} is byte-identical`);
      if (expected.has('error.txt')) continue;
      // Every golden file is checked by the real daemons, not just compared.
      const configFiles = new Map([...expected].filter(([file]) => file.endsWith('.cfg')));
      t.same(
        await birdAccepts(configFiles, { declareKrtTunnel: variant.ipip === 'krt-tunnel' }),
        [],
        `${variant.dir}: bird -p and bird6 -p accept it`,
      );
    }
  });
}

t.test('rendering is byte-stable: the same keyspace in another insertion order gives the same bytes', async (t) => {
  const scenario = loadScenario('bad-entries');
  const reversed = { ...scenario, keyspace: new Map([...scenario.keyspace].reverse()) };
  t.same(await renderGoldenFiles(reversed, 'off'), await renderGoldenFiles(scenario, 'off'));
});
