import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fileKeyspaceSource, MemoryKeyspaceSource } from '../../src/datastore/memoryKeyspace.js';
import { keys } from '../../src/model/keys.js';
import { nodeKeyScope } from '../../src/model/keyScope.js';

/** The in-memory and file KeyspaceSources keep a scope as the etcd mirror does (datastore-scale tests the mirror). */
t.test(
  'a memory source: only the scope is kept; a write outside it is not reported; the mesh switch re-scopes',
  async (t) => {
    const source = new MemoryKeyspaceSource([
      [keys.hostAddress('n1', 4), '10.0.0.1'],
      [keys.hostAddress('n2', 4), '10.0.0.2'],
      [keys.hostPeer('n2', 4, '10.0.0.9'), '{"ip":"10.0.0.9","as_num":"64512"}'],
    ]);
    const changes: string[][] = [];
    const live = source.open(nodeKeyScope('n1'), { onChange: (changed) => changes.push([...changed].sort()) });
    await live.start();
    t.same([...live.entries.keys()].sort(), [keys.hostAddress('n1', 4), keys.hostAddress('n2', 4)], "not n2's peers");
    t.equal(live.state, 'synced');
    t.equal(live.scopeLabel, 'mesh on');
    changes.length = 0;

    source.put(keys.hostPeer('n2', 4, '10.0.0.8'), '{"ip":"10.0.0.8","as_num":"64512"}');
    t.same(changes, [], "another host's peer is not this node's business");
    source.put(keys.nodeMesh, '{"enabled":false}');
    t.same(changes, [[keys.nodeMesh, keys.hostAddress('n2', 4)]], 'mesh off: the other hosts leave the scope');
    t.equal(live.scopeLabel, 'mesh off');
    t.equal(live.revision, source.revision);
    await live.close();
    source.put(keys.hostAddress('n1', 4), '10.0.0.5');
    t.equal(changes.length, 1, 'a closed copy hears nothing');
  },
);

t.test('a file source reads the whole file at start and again on resync, reporting what changed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-file-source-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'etcd.json');
  writeFileSync(path, JSON.stringify({ [keys.hostAddress('n1', 4)]: '10.0.0.1' }));
  const changes: string[][] = [];
  const live = fileKeyspaceSource(path).open(nodeKeyScope('n1'), { onChange: (changed) => changes.push([...changed]) });
  await live.start();
  t.same(changes, [[keys.hostAddress('n1', 4)]]);
  writeFileSync(path, JSON.stringify({ [keys.hostAddress('n1', 4)]: '10.0.0.2', [keys.globalAsNumber]: '64513' }));
  await live.resync();
  t.same(changes[1]?.sort(), [keys.globalAsNumber, keys.hostAddress('n1', 4)].sort());
  t.equal(live.entries.get(keys.hostAddress('n1', 4)), '10.0.0.2');
  writeFileSync(path, '{not json');
  await t.rejects(live.resync(), { name: 'DatastoreError', kind: 'format' });
});
