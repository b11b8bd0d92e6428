// Rewrites fixtures/<scenario>/expected*/ from the current model and templates. Tests never do this:
// run it on purpose (`npm run goldens`), then read the diff before committing it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listScenarios, loadScenario } from '../test/support/fixtures.js';
import { BIRD2_VARIANTS, renderBird2GoldenFiles } from '../test/support/bird2Goldens.js';
import { differsFrom, renderGoldenFiles, VARIANTS } from '../test/support/goldens.js';

for (const name of listScenarios()) {
  const scenario = loadScenario(name);
  const plain = await renderGoldenFiles(scenario, 'off');
  for (const variant of VARIANTS) {
    const files = variant.ipip === 'off' ? plain : await renderGoldenFiles(scenario, variant.ipip);
    const dir = join(scenario.dir, variant.dir);
    rmSync(dir, { recursive: true, force: true });
    if (variant.ipip !== 'off' && !differsFrom(files, plain)) continue;
    mkdirSync(dir, { recursive: true });
    for (const [file, content] of files) writeFileSync(join(dir, file), content);
  }
  // BIRD 2/3 (one daemon, one bird.cfg): the plain golden always; the IPIP ones where they differ from it.
  const [plain2, ...ipip2] = BIRD2_VARIANTS;
  const plainFiles2 = await renderBird2GoldenFiles(scenario, plain2!);
  for (const variant of BIRD2_VARIANTS) {
    const files = variant === plain2 ? plainFiles2 : await renderBird2GoldenFiles(scenario, variant);
    const dir = join(scenario.dir, variant.dir);
    rmSync(dir, { recursive: true, force: true });
    if (ipip2.includes(variant) && !differsFrom(files, plainFiles2)) continue;
    mkdirSync(dir, { recursive: true });
    for (const [file, content] of files) writeFileSync(join(dir, file), content);
  }
  process.stdout.write(`${name}\n`);
}
