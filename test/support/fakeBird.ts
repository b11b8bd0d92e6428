import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedFileSet } from '../../src/apply/stagingDir.js';
import type { PipelineEdges, ReloadEdges, ReloadOutcome } from '../../src/controller/edges.js';
import type { ValidationFailure } from '../../src/controller/validationFailure.js';
import type { Daemon } from '../../src/model/daemon.js';
import { entryAt } from '../../src/render/fileSet.js';

/** What a fake BIRD answers to `configure`: an outcome kind, or a promise the test settles (a slow reload). */
type FakeReload = ReloadOutcome['kind'] | Promise<ReloadOutcome['kind']>;

/**
 * Stand-ins for bird -p and BIRD's control socket, with real files: the live config dir is on disk (the cycle
 * compares with it), staging is in memory. bird -p refuses the first line holding the word BROKEN (naming the
 * entry rendered there, as the real validator does from BIRD's file:line), or whatever `refuse` says for a daemon.
 * Every reload is recorded; `reloads` scripts the answers per daemon (default: applied).
 */
export interface FakeBird {
  /** bird -p, staging and swap (PipelineEdges) and `configure` (ReloadEdges), in one object. */
  readonly edges: PipelineEdges & ReloadEdges;
  /** The daemons reloaded, in order, with the time each was asked. */
  readonly reloaded: { daemon: Daemon; at: number }[];
  /** The next answers of each daemon's `configure` (shifted one per reload; empty: applied). */
  readonly reloads: Record<Daemon, FakeReload[]>;
  /** A daemon's bird -p refuses every set with this message (no entry to blame), until set back to undefined. */
  readonly refuse: Partial<Record<Daemon, string>>;
  /** Files written with `write` (putting back what a daemon runs), in order. */
  readonly putBack: string[][];
}

export function fakeBird(configDir: string, now: () => number = () => 0): FakeBird {
  const staged = new Map<string, Map<string, string>>();
  let n = 0;
  const fake: FakeBird = {
    reloaded: [],
    reloads: { bird: [], bird6: [] },
    refuse: {},
    putBack: [],
    edges: {
      stage: (_root, files): Promise<StagedFileSet> => {
        const dir = `/stage-${n++}`;
        staged.set(dir, new Map(files));
        return Promise.resolve({ dir, remove: () => Promise.resolve(void staged.delete(dir)) });
      },
      validate: (daemon, dir, spans): Promise<ValidationFailure | undefined> => {
        const refusal = fake.refuse[daemon];
        if (refusal !== undefined)
          return Promise.resolve({
            daemon,
            file: `${daemon}.cfg`,
            line: 1,
            column: 1,
            message: refusal,
            entryKey: undefined,
            customFilter: false,
          });
        for (const [file, content] of staged.get(dir)!) {
          const line = content.split('\n').findIndex((l) => l.includes('BROKEN')) + 1;
          if (line > 0) {
            const span = entryAt(spans(), file, line);
            return Promise.resolve({
              daemon,
              file,
              line,
              column: 1,
              message: 'syntax error',
              entryKey: span?.key,
              customFilter: span?.kind === 'custom-filter',
            });
          }
        }
        return Promise.resolve(undefined);
      },
      swap: (_configDir, dir, names) => {
        for (const name of names) writeFileSync(join(configDir, name), staged.get(dir)!.get(name)!);
        return Promise.resolve();
      },
      write: (_configDir, files) => {
        for (const [name, content] of files) writeFileSync(join(configDir, name), content);
        fake.putBack.push([...files.keys()]);
        return Promise.resolve();
      },
      reload: async (daemon): Promise<ReloadOutcome> => {
        fake.reloaded.push({ daemon, at: now() });
        const kind = await (fake.reloads[daemon].shift() ?? 'applied');
        return kind === 'applied'
          ? { kind, daemon, message: 'Reconfigured', ms: 1 }
          : { kind, daemon, message: `${daemon} says ${kind}` };
      },
    },
  };
  return fake;
}
