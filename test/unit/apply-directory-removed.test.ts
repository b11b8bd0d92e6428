import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { stageFileSet } from '../../src/apply/stagingDir.js';
import {
  swapStagedFiles,
  warnDirectoryRemoved,
  writeFilesDurably,
  type RemovedDirectory,
} from '../../src/apply/swapFileSet.js';
import { createLogger } from '../../src/observe/logger.js';

const configDirFor = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-dir-in-place-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** A directory where bird.cfg belongs, holding `count` files (and one subdirectory). */
function directoryAt(path: string, count: number): void {
  mkdirSync(join(path, 'sub'), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(path, `f${String(i).padStart(2, '0')}`), 'x');
}

t.test('a swap over a non-empty directory removes it and says what it held', async (t) => {
  const configDir = configDirFor(t);
  directoryAt(join(configDir, 'bird.cfg'), 2);
  const staged = await stageFileSet(configDir, new Map([['bird.cfg', 'new']]));
  const removed: RemovedDirectory[] = [];
  await swapStagedFiles(configDir, staged.dir, ['bird.cfg'], (r) => removed.push(r));
  await staged.remove();
  t.ok(statSync(join(configDir, 'bird.cfg')).isFile());
  t.equal(readFileSync(join(configDir, 'bird.cfg'), 'utf8'), 'new');
  t.same(removed, [{ path: join(configDir, 'bird.cfg'), entries: ['f00', 'f01', 'sub'], entryCount: 3 }]);
});

t.test('a durable write over a directory: listed up to 20 names; a plain file in place is not reported', async (t) => {
  const configDir = configDirFor(t);
  directoryAt(join(configDir, 'bird.cfg'), 24);
  writeFileSync(join(configDir, 'bird6.cfg'), 'old');
  const removed: RemovedDirectory[] = [];
  await writeFilesDurably(
    configDir,
    new Map([
      ['bird.cfg', 'a'],
      ['bird6.cfg', 'b'],
    ]),
    (r) => removed.push(r),
  );
  t.equal(removed.length, 1, 'only the directory is reported');
  t.equal(removed[0]?.entryCount, 25);
  t.equal(removed[0]?.entries.length, 20);
  t.equal(readFileSync(join(configDir, 'bird.cfg'), 'utf8'), 'a');
});

t.test('the warn line: event directory-removed, the path and the entries as fields', async (t) => {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const log = createLogger({ level: 'info', pretty: false, destination: stream });
  const warn = warnDirectoryRemoved(log);
  warn({ path: '/c/bird.cfg', entries: ['a', 'b'], entryCount: 2 });
  warn({ path: '/c/bird6.cfg', entries: [], entryCount: 0 });
  await new Promise((resolve) => setImmediate(resolve));
  t.match(lines, [
    {
      level: 40,
      component: 'apply',
      event: 'directory-removed',
      path: '/c/bird.cfg',
      entries: ['a', 'b'],
      entryCount: 2,
      msg: /\/c\/bird\.cfg.*2 entries: a, b/,
    },
    { event: 'directory-removed', path: '/c/bird6.cfg', entryCount: 0, msg: /was empty/ },
  ]);
});
