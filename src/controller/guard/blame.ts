import type { Daemon } from '../../model/daemon.js';
import { daemonOf, type EntrySpan, type FileSet } from '../../render/fileSet.js';

/**
 * The entries a reverted apply is pinned on: those whose rendered lines (entry spans) are not in the files BIRD
 * ran before — a changed custom filter, a peer whose block changed (its AS), a new block or pool. Of a span rendered
 * from several keys (a mesh peer: its host's address and AS), the ones that changed since the last clean apply
 * (`changed`) are blamed, else its own key. Sessions the change only added are not blamed (adding a peer cannot
 * break the others). Pure; keys not in the keyspace are dropped (nothing to hold back).
 */
export function blameEntries(
  daemon: Daemon,
  before: ReadonlyMap<string, string>,
  rendered: FileSet,
  spans: readonly EntrySpan[],
  added: readonly string[],
  inKeyspace: (key: string) => boolean,
  changed: (key: string) => boolean = () => false,
): string[] {
  const addedSet = new Set(added);
  const blamed = new Set<string>();
  const lines = new Map<string, string[]>();
  for (const span of spans) {
    if (daemonOf(span.file) !== daemon || !inKeyspace(span.key)) continue;
    const file = rendered.get(span.file);
    if (file === undefined) continue;
    if (!lines.has(span.file)) lines.set(span.file, file.split('\n'));
    const text = lines
      .get(span.file)!
      .slice(span.firstLine - 1, span.lastLine)
      .join('\n');
    const bgp = /^\s*protocol bgp ([A-Za-z0-9_]+)/.exec(text);
    if (bgp && addedSet.has(bgp[1]!)) continue;
    if ((before.get(span.file) ?? '').includes(text)) continue;
    const changedKeys = [span.key, ...(span.alsoFrom ?? [])].filter((key) => inKeyspace(key) && changed(key));
    for (const key of changedKeys.length > 0 ? changedKeys : [span.key]) blamed.add(key);
  }
  return [...blamed].sort();
}
