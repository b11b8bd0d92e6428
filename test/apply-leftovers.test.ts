import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeLeftovers } from '../src/apply/leftovers.js';
import { stageFileSet } from '../src/apply/stagingDir.js';
import { swapFileSet } from '../src/apply/swapFileSet.js';

t.test('leftovers of a killed run are removed; live files and other directories are kept', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'birdwatch-leftovers-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const configDir = join(root, 'config');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'bird.cfg'), 'live');
  writeFileSync(join(configDir, '.bird.cfg.tmp-4242'), 'half');
  writeFileSync(join(configDir, 'notes.tmp-1'), 'not ours');
  const staged = await stageFileSet(configDir, new Map([['bird.cfg', 'staged']]));
  mkdirSync(join(root, '.other.staging-x'));
  const removed = await removeLeftovers(configDir);
  t.same(removed.sort(), [staged.dir, join(configDir, '.bird.cfg.tmp-4242')].sort());
  t.same(readdirSync(configDir).sort(), ['bird.cfg', 'notes.tmp-1']);
  t.ok(existsSync(join(root, '.other.staging-x')), "another config dir's staging is not touched");
  t.same(await removeLeftovers(join(root, 'missing')), [], 'a missing config dir is fine');
});

t.test('swap writes only changed files, in order, and leaves no temp files', async (t) => {
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-swap-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const files = new Map([
    ['bird_aggr.cfg', 'a'],
    ['bird.cfg', 'b'],
  ]);
  t.same(await swapFileSet(configDir, files, new Map()), ['bird_aggr.cfg', 'bird.cfg']);
  t.same(await swapFileSet(configDir, new Map([['bird_aggr.cfg', 'a'], ['bird.cfg', 'c']]), files), ['bird.cfg']);
  t.same(readdirSync(configDir).sort(), ['bird.cfg', 'bird_aggr.cfg']);
});
