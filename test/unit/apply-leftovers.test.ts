import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeLeftovers } from '../../src/apply/leftovers.js';
import { stageFileSet } from '../../src/apply/stagingDir.js';
import { swapStagedFiles, writeFilesDurably } from '../../src/apply/swapFileSet.js';
import { ApplyError } from '../../src/apply/errors.js';
import { LiveFiles } from '../../src/apply/liveFileSet.js';

t.test('leftovers of a killed run are removed; live files and other directories are kept', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'birdwatch-leftovers-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const configDir = join(root, 'config');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'bird.cfg'), 'live');
  writeFileSync(join(configDir, '.bird.cfg.tmp-4242'), 'half');
  writeFileSync(join(configDir, 'notes.tmp-1'), 'not ours');
  const staged = await stageFileSet(configDir, new Map([['bird.cfg', 'staged']]));
  t.equal(join(staged.dir, '..'), configDir, 'staging happens inside the config dir (only it must be writable)');
  mkdirSync(join(root, '.config.staging-legacy'));
  mkdirSync(join(root, '.other.staging-x'));
  const removed = await removeLeftovers(configDir);
  t.same(
    removed.sort(),
    [staged.dir, join(configDir, '.bird.cfg.tmp-4242'), join(root, '.config.staging-legacy')].sort(),
  );
  t.same(readdirSync(configDir).sort(), ['bird.cfg', 'notes.tmp-1']);
  t.ok(existsSync(join(root, '.other.staging-x')), "another config dir's staging is not touched");
  t.same(await removeLeftovers(join(root, 'missing')), [], 'a missing config dir is fine');
});

t.test('swap renames staged files into place in order; a part-way failure names what was replaced', async (t) => {
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-swap-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const files = new Map([
    ['bird_aggr.cfg', 'a'],
    ['bird.cfg', 'b'],
  ]);
  const staged = await stageFileSet(configDir, files);
  await swapStagedFiles(configDir, staged.dir, ['bird_aggr.cfg', 'bird.cfg']);
  await staged.remove();
  t.same(readdirSync(configDir).sort(), ['bird.cfg', 'bird_aggr.cfg'], 'nothing but the live files is left');
  // bird.cfg is missing from the staged set: the swap fails after bird_aggr.cfg was replaced.
  const partial = await stageFileSet(configDir, new Map([['bird_aggr.cfg', 'a2']]));
  const error = await swapStagedFiles(configDir, partial.dir, ['bird_aggr.cfg', 'bird.cfg']).catch((e: unknown) => e);
  await partial.remove();
  t.ok(error instanceof ApplyError);
  t.same(
    error instanceof ApplyError ? error.replaced : undefined,
    ['bird_aggr.cfg'],
    'the error lists the files already replaced',
  );
  // A live file replaced by a directory behind birdwatch's back is repaired by the next write.
  rmSync(join(configDir, 'bird.cfg'));
  mkdirSync(join(configDir, 'bird.cfg'));
  await writeFilesDurably(configDir, new Map([['bird.cfg', 'c']]));
  t.same(readdirSync(configDir).sort(), ['bird.cfg', 'bird_aggr.cfg']);
});

t.test('LiveFiles: re-reads only what changed on disk, sees edits and replacements behind our back', async (t) => {
  const configDir = mkdtempSync(join(tmpdir(), 'birdwatch-live-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  writeFileSync(join(configDir, 'bird.cfg'), 'one');
  const live = new LiveFiles(configDir);
  t.same([...(await live.read(['bird.cfg', 'bird6.cfg']))], [['bird.cfg', 'one']], 'a missing file is absent');
  writeFileSync(join(configDir, 'bird.cfg'), 'two!');
  t.same((await live.read(['bird.cfg'])).get('bird.cfg'), 'two!', 'an edit is seen');
  rmSync(join(configDir, 'bird.cfg'));
  mkdirSync(join(configDir, 'bird.cfg'));
  t.same((await live.read(['bird.cfg'])).has('bird.cfg'), false, 'a directory in its place is no live file');
});
