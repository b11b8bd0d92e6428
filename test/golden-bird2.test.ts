import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { validateBirdConfig } from '../src/bird/validateConfig.js';
import { keys } from '../src/model/keys.js';
import { BIRD2_VARIANTS, renderBird2GoldenFiles, scenarioModel } from './support/bird2Goldens.js';
import { birdOfVersion, isMissing } from './support/birdVersions.js';
import { listScenarios, loadScenario } from './support/fixtures.js';

/**
 * The BIRD 2/3 goldens (fixtures/<scenario>/expected-bird2*): byte-identical to the rendering, and each accepted by
 * the real `bird -p` of every version it is for (2.0.12, 3.1.0, 3.3.2; the IPIP-through-onlink ones not by 3.1.0,
 * which refuses `onlink`: for 3.1.0 the rendering is the node's error naming the version). Regenerated only on
 * purpose (`npm run goldens`).
 */
const work = mkdtempSync(join(tmpdir(), 'birdwatch-golden2-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

async function birdP(version: string, files: ReadonlyMap<string, string>): Promise<string | undefined> {
  const bird = birdOfVersion(version);
  if (isMissing(bird)) throw new Error(bird.missing);
  const dir = mkdtempSync(join(work, `${version}-`));
  for (const [name, content] of files) writeFileSync(join(dir, name), content);
  const result = await validateBirdConfig({ binary: bird.bird, configPath: join(dir, 'bird.cfg') });
  rmSync(dir, { recursive: true, force: true });
  return result.ok ? undefined : result.raw;
}

const scenarios = listScenarios();
for (const name of scenarios) {
  t.test(name, async (t) => {
    const scenario = loadScenario(name);
    t.ok(existsSync(join(scenario.dir, 'expected-bird2')), 'every scenario has a BIRD 2/3 golden');
    for (const variant of BIRD2_VARIANTS) {
      const dir = join(scenario.dir, variant.dir);
      if (!existsSync(dir)) continue;
      const expected = new Map(readdirSync(dir).map((file) => [file, readFileSync(join(dir, file), 'utf8')]));
      const actual = await renderBird2GoldenFiles(scenario, variant);
      t.same([...actual.keys()].sort(), [...expected.keys()].sort(), `${variant.dir}: same file list`);
      for (const [file, content] of expected)
        t.equal(actual.get(file), content, `${variant.dir}/${file} is byte-identical`);
      const configs = new Map([...expected].filter(([file]) => file.endsWith('.cfg')));
      if (expected.has('error.txt')) {
        if (variant.ipip === 'onlink' && variant.bird === '3.1.0') {
          const built = scenarioModel(scenario);
          const pool =
            built.kind === 'node' ? built.model.v4.pools.find((p) => p.ipipInterface !== undefined) : undefined;
          t.ok(pool, 'the error is an IPIP pool’s');
          t.match(expected.get('error.txt'), pool ? keys.pool(4, pool.cidr.text) : '', 'it names the pool’s key');
        }
        continue;
      }
      for (const version of variant.checkedBy) {
        const bird = birdOfVersion(version);
        if (isMissing(bird)) {
          await t.test(`${variant.dir}: bird -p ${version}`, { skip: bird.missing }, () => undefined);
          continue;
        }
        t.equal(await birdP(version, configs), undefined, `${variant.dir}: BIRD ${version} -p accepts it`);
      }
      if (variant.ipip === 'onlink' && !isMissing(birdOfVersion('3.1.0')))
        t.match(
          await birdP('3.1.0', configs),
          /unexpected ONLINK/,
          `${variant.dir}: BIRD 3.1.0 refuses onlink (why that golden is an error for 3.1.0)`,
        );
    }
  });
}
