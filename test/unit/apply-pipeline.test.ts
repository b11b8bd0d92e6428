import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ApplyError } from '../../src/apply/errors.js';
import type { StagedFileSet } from '../../src/apply/stagingDir.js';
import { BirdValidationTimeoutError } from '../../src/bird/errors.js';
import { runDaemonPipeline } from '../../src/controller/applyPipeline.js';
import { planDaemon, type PipelineMode } from '../../src/controller/applyPlan.js';
import type { PipelineEdges, ReloadEdges, ReloadOutcome } from '../../src/controller/edges.js';
import type { ValidationFailure } from '../../src/controller/validationFailure.js';
import type { GuardedReload } from '../../src/controller/guard/judgement.js';
import { previousFilesName, UndoRecord } from '../../src/controller/guard/undoRecord.js';
import type { Daemon } from '../../src/model/daemon.js';

/** The pipeline's branches with fake edges, in milliseconds; the real-BIRD tests (apply-faults, run) are the proof. */
interface FakeLog {
  readonly calls: string[];
}

type FakeEdges = PipelineEdges & ReloadEdges;

function fakeEdges(log: FakeLog, overrides: Partial<FakeEdges> = {}): FakeEdges {
  const staged = (dir: string): StagedFileSet => ({ dir, remove: async () => void log.calls.push(`remove ${dir}`) });
  return {
    stage: async (root) => {
      log.calls.push('stage');
      return staged(`${root}/.staging-x`);
    },
    validate: async (daemon) => {
      log.calls.push(`validate ${daemon}`);
      return undefined;
    },
    swap: async (_dir, _staged, names) => void log.calls.push(`swap ${names.join(',')}`),
    write: async (_dir, files) => void log.calls.push(`write ${[...files.keys()].join(',')}`),
    reload: async (daemon: Daemon): Promise<ReloadOutcome> => {
      log.calls.push(`reload ${daemon}`);
      return { kind: 'applied', daemon, message: 'Reconfigured', ms: 1 };
    },
    ...overrides,
  };
}

const files = new Map([
  ['bird_aggr.cfg', 'a2'],
  ['bird.cfg', 'b2'],
  ['bird6.cfg', 'c'],
]);
const live = new Map([
  ['bird_aggr.cfg', 'a'],
  ['bird.cfg', 'b'],
  ['bird6.cfg', 'c'],
]);
interface Options {
  readonly edges: FakeEdges;
  readonly mode?: PipelineMode;
  readonly validate?: boolean;
  /** The reload-mode memory allows the staged method. */
  readonly overlap?: boolean;
  readonly stageRoot?: string;
  readonly signal?: AbortSignal;
  /** A guarded change: the guard's marker and `configure timeout`. */
  readonly guarded?: GuardedReload;
  readonly undo?: UndoRecord;
}
const options = (edges: FakeEdges, rest: Omit<Options, 'edges'> = {}): Options => ({ edges, ...rest });
/** bird -p's refusal of the templates' own lines (no entry to blame). */
const REFUSAL: ValidationFailure = {
  daemon: 'bird',
  file: 'bird.cfg',
  line: 3,
  column: 1,
  message: 'syntax error',
  entryKey: undefined,
  customFilter: false,
};
const input = (daemon: Daemon, reloadPending = false) => ({ daemon, reloadPending });
/** The plan the cycle makes for these options, run on the files above. */
const pipeline = (i: ReturnType<typeof input>, o: Options) =>
  runDaemonPipeline(
    planDaemon(
      i.daemon,
      { mode: o.mode ?? 'apply', validate: o.validate ?? true },
      { bird: o.edges, owed: i.reloadPending, staged: o.overlap ?? false, guarded: o.guarded, undo: o.undo },
    ),
    { files, live, spans: () => [] },
    { configDir: '/cfg', stageRoot: o.stageRoot ?? '/cfg', edges: o.edges, signal: o.signal },
  );

t.test('a changed daemon goes stage → validate → swap → reload, with its own files only', async (t) => {
  const log = { calls: [] as string[] };
  const result = await pipeline(input('bird'), options(fakeEdges(log)));
  t.same(log.calls, ['stage', 'validate bird', 'swap bird_aggr.cfg,bird.cfg', 'remove /cfg/.staging-x', 'reload bird']);
  t.same(result.written, ['bird_aggr.cfg', 'bird.cfg']);
  t.equal(result.failure, undefined);
});

t.test('an unchanged daemon does nothing, unless a reload is pending', async (t) => {
  const log = { calls: [] as string[] };
  t.same((await pipeline(input('bird6'), options(fakeEdges(log)))).changed, []);
  t.same(log.calls, []);
  await pipeline(input('bird6', true), options(fakeEdges(log)));
  t.same(log.calls, ['reload bird6']);
});

t.test('a refusal by bird -p stops before the swap; the staging dir is removed', async (t) => {
  const log = { calls: [] as string[] };
  const result = await pipeline(input('bird'), options(fakeEdges(log, { validate: async () => REFUSAL })));
  t.same(log.calls, ['stage', 'remove /cfg/.staging-x']);
  t.match(result.failure, {
    step: 'validate',
    transient: false,
    message: 'bird -p rejected the configuration: bird.cfg:3:1 syntax error',
  });
});

t.test('a refusal while a reload is still owed for the files on disk: that reload is sent anyway', async (t) => {
  const log = { calls: [] as string[] };
  const result = await pipeline(input('bird', true), options(fakeEdges(log, { validate: async () => REFUSAL })));
  t.same(log.calls, ['stage', 'reload bird', 'remove /cfg/.staging-x']);
  t.equal(result.reload?.kind, 'applied');
  t.match(result.failure, { step: 'validate' });
});

t.test('a hung bird -p is a transient validate failure; an abort is an abort, not a failure', async (t) => {
  const log = { calls: [] as string[] };
  const hung = await pipeline(
    input('bird'),
    options(
      fakeEdges(log, {
        validate: () =>
          Promise.reject(new BirdValidationTimeoutError('bird', 10, 'bird -p did not finish within 10 ms (killed)')),
      }),
    ),
  );
  t.match(hung.failure, { step: 'validate', transient: true });
  const abort = new AbortController();
  abort.abort();
  const aborted = await pipeline(
    input('bird'),
    options(fakeEdges(log, { validate: () => Promise.reject(new Error('aborted')) }), { signal: abort.signal }),
  );
  t.equal(aborted.aborted, true);
  t.equal(aborted.failure, undefined);
  t.same(aborted.written, [], 'nothing swapped');
});

t.test('a swap that fails part-way reports the files it replaced, and does not reload', async (t) => {
  const log = { calls: [] as string[] };
  const swap = (): Promise<void> =>
    Promise.reject(
      new ApplyError('cannot write configuration into /cfg: ENOSPC', '/cfg', { replaced: ['bird_aggr.cfg'] }),
    );
  const result = await pipeline(input('bird'), options(fakeEdges(log, { swap })));
  t.same(result.written, ['bird_aggr.cfg']);
  t.match(result.failure, { step: 'swap', transient: true });
  t.notOk(log.calls.includes('reload bird'));
});

t.test(
  'reload outcomes: refused and garbled are failures of that daemon; unreachable is a pending reload',
  async (t) => {
    const reloadWith =
      (outcome: ReloadOutcome['kind']) =>
      async (daemon: Daemon): Promise<ReloadOutcome> =>
        outcome === 'applied'
          ? { kind: 'applied', daemon, message: 'Reconfigured', ms: 1 }
          : { kind: outcome, daemon, message: 'x' };
    const log = { calls: [] as string[] };
    t.match((await pipeline(input('bird'), options(fakeEdges(log, { reload: reloadWith('rejected') })))).failure, {
      step: 'reload',
      message: 'bird refused the configuration: x',
    });
    t.match((await pipeline(input('bird'), options(fakeEdges(log, { reload: reloadWith('garbled') })))).failure, {
      step: 'reload',
    });
    const unreachable = await pipeline(input('bird'), options(fakeEdges(log, { reload: reloadWith('unreachable') })));
    t.equal(unreachable.failure, undefined);
    t.equal(unreachable.reload?.kind, 'unreachable');
  },
);

t.test('check mode validates and writes nothing; --no-validate writes without staging', async (t) => {
  const log = { calls: [] as string[] };
  await pipeline(input('bird'), options(fakeEdges(log), { mode: 'check', stageRoot: '/tmp/scratch' }));
  t.same(log.calls, ['stage', 'validate bird', 'remove /tmp/scratch/.staging-x']);
  log.calls.length = 0;
  await pipeline(input('bird'), options(fakeEdges(log), { mode: 'write', validate: false }));
  t.same(log.calls, ['write bird_aggr.cfg,bird.cfg']);
});

t.test('overlap: BIRD takes the staged set while bird -p checks it', async (t) => {
  const refusal: ValidationFailure = { ...REFUSAL, entryKey: 'k' };
  const staged =
    (log: FakeLog, outcome: (daemon: Daemon) => ReloadOutcome) =>
    async (daemon: Daemon, dir: string): Promise<ReloadOutcome> => {
      log.calls.push(`reload-staged ${daemon} ${dir}`);
      return outcome(daemon);
    };
  const applied = (daemon: Daemon): ReloadOutcome => ({ kind: 'applied', daemon, message: 'Reconfigured', ms: 2 });
  const overlap = { overlap: true };

  await t.test('both accept: one reload (the staged one), then the swap', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(input('bird'), options(fakeEdges(log, { reloadStaged: staged(log, applied) }), overlap));
    t.same(log.calls.slice(0, 3).sort(), ['reload-staged bird /cfg/.staging-x', 'stage', 'validate bird'].sort());
    t.same(log.calls.slice(3), ['swap bird_aggr.cfg,bird.cfg', 'remove /cfg/.staging-x']);
    t.same(r.written, ['bird_aggr.cfg', 'bird.cfg']);
    t.equal(r.reload?.kind, 'applied');
    t.equal(r.stagedReload, r.reload, 'the reload is the staged one: no second configure');
    t.equal(r.failure, undefined);
  });

  await t.test('BIRD accepts what bird -p refuses: told to load the disk again; nothing swapped', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(fakeEdges(log, { reloadStaged: staged(log, applied), validate: async () => refusal }), overlap),
    );
    t.notOk(
      log.calls.some((c) => c.startsWith('swap')),
      'nothing unvalidated reaches the config dir',
    );
    t.ok(log.calls.includes('reload bird'), 'a plain configure puts BIRD back on the files on disk');
    t.same(r.written, []);
    t.match(r.failure, { step: 'validate', message: /bird -p and BIRD disagree/ });
    t.equal(r.validation?.entryKey, 'k', 'the entry is still named, so it can be quarantined');
    t.equal(r.diverged, false);
  });

  await t.test('going back does not land: the result says BIRD diverged from the disk', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(
        fakeEdges(log, {
          reloadStaged: staged(log, applied),
          validate: async () => refusal,
          reload: async (daemon) => ({ kind: 'unreachable', daemon, message: 'gone' }),
        }),
        overlap,
      ),
    );
    t.equal(r.diverged, true);
    t.match(r.failure?.message, /which did not land/);
  });

  await t.test('BIRD refuses what bird -p accepts: nothing swapped, a transient reload failure', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(
        fakeEdges(log, {
          reloadStaged: staged(log, (daemon) => ({
            kind: 'rejected',
            daemon,
            message: '8002 /cfg/.staging-x/custom_filters.cfg:2:9 syntax error',
          })),
        }),
        overlap,
      ),
    );
    t.same(r.written, []);
    t.notOk(log.calls.some((c) => c.startsWith('swap') || c === 'reload bird'));
    t.match(r.failure, {
      step: 'reload',
      transient: true,
      message: 'bird refused the staged configuration that bird -p accepted: 8002 custom_filters.cfg:2:9 syntax error',
    });
  });

  await t.test('BIRD cannot open the staged set (another mount): the sequential path runs and says so', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(
        fakeEdges(log, {
          reloadStaged: staged(log, (daemon) => ({
            kind: 'rejected',
            daemon,
            message: '8002 /cfg/.staging-x/bird.cfg: No such file or directory',
          })),
        }),
        overlap,
      ),
    );
    t.same(log.calls.slice(3), ['swap bird_aggr.cfg,bird.cfg', 'remove /cfg/.staging-x', 'reload bird']);
    t.equal(r.failure, undefined);
    t.equal(r.stagedUnreadable, '8002 /cfg/.staging-x/bird.cfg: No such file or directory');
  });

  await t.test('BIRD unreachable: the validated set is swapped and the reload stays owed', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(
        fakeEdges(log, {
          reloadStaged: staged(log, (daemon) => ({ kind: 'unreachable', daemon, message: 'ECONNREFUSED' })),
        }),
        overlap,
      ),
    );
    t.same(r.written, ['bird_aggr.cfg', 'bird.cfg']);
    t.equal(r.reload?.kind, 'unreachable');
    t.notOk(log.calls.includes('reload bird'));
  });

  await t.test('bird -p hangs while BIRD took the set: back to the disk, a transient failure', async (t) => {
    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(
        fakeEdges(log, {
          reloadStaged: staged(log, applied),
          validate: async () => {
            throw new BirdValidationTimeoutError('bird', 500, 'bird -p ran longer than 500 ms');
          },
        }),
        overlap,
      ),
    );
    t.ok(log.calls.includes('reload bird'));
    t.notOk(log.calls.some((c) => c.startsWith('swap')));
    t.match(r.failure, { step: 'validate', transient: true });
  });

  await t.test('without overlap (check, write, a guarded daemon) the staged reload is never sent', async (t) => {
    // A dry run's plan has no reload step, whatever the reload-mode memory says.
    for (const rest of [
      { mode: 'write' as const, overlap: true },
      { mode: 'apply' as const, overlap: false },
    ]) {
      const log = { calls: [] as string[] };
      await pipeline(input('bird'), options(fakeEdges(log, { reloadStaged: staged(log, applied) }), rest));
      t.notOk(
        log.calls.some((c) => c.startsWith('reload-staged')),
        JSON.stringify(rest),
      );
    }
  });
});

t.test(
  'guarded: validate, the marker, then configure "<staged>" timeout; the disk keeps the confirmed set',
  async (t) => {
    const guardedReload = (
      log: FakeLog,
      answer: ReloadOutcome['kind'] | 'unreadable',
      marker = true,
    ): GuardedReload => ({
      writeMarker: async () => {
        log.calls.push('marker');
        return marker;
      },
      configureTimeout: async (stagedDir) => {
        log.calls.push(`configure timeout ${stagedDir ?? 'disk'}`);
        if (answer === 'unreadable' && stagedDir !== undefined)
          return { kind: 'rejected', daemon: 'bird', message: `8002 ${stagedDir}/bird.cfg: No such file or directory` };
        return answer === 'applied' || answer === 'unreadable'
          ? { kind: 'applied', daemon: 'bird', message: 'Reconfigured', ms: 1 }
          : { kind: answer, daemon: 'bird', message: 'x' };
      },
      removeMarker: async () => void log.calls.push('remove marker'),
    });
    const staged =
      (log: FakeLog) =>
      async (daemon: Daemon): Promise<ReloadOutcome> => {
        log.calls.push(`reload-staged ${daemon}`);
        return { kind: 'applied', daemon, message: 'Reconfigured', ms: 1 };
      };

    const log = { calls: [] as string[] };
    const r = await pipeline(
      input('bird'),
      options(fakeEdges(log, { reloadStaged: staged(log) }), { overlap: true, guarded: guardedReload(log, 'applied') }),
    );
    t.same(
      log.calls,
      ['stage', 'validate bird', 'marker', 'configure timeout /cfg/.staging-x'],
      'nothing swapped, the staged set kept for the judge',
    );
    t.equal(r.windowOpened, true, 'the settle window judges it');
    t.same(r.written, []);
    t.equal(r.window?.staged?.dir, '/cfg/.staging-x');
    t.same(r.window?.names, ['bird_aggr.cfg', 'bird.cfg']);
    t.equal(r.reload?.kind, 'applied');

    const refused = { calls: [] as string[] };
    const no = await pipeline(
      input('bird'),
      options(fakeEdges(refused), { overlap: true, guarded: guardedReload(refused, 'rejected') }),
    );
    t.same(
      refused.calls,
      [
        'stage',
        'validate bird',
        'marker',
        'configure timeout /cfg/.staging-x',
        'remove marker',
        'remove /cfg/.staging-x',
      ],
      'BIRD refused the staged set: no window, no marker left, nothing swapped',
    );
    t.equal(no.windowOpened, false);
    t.match(no.failure, { step: 'reload', message: /refused the staged configuration/ });

    const lost = { calls: [] as string[] };
    const unknown = await pipeline(
      input('bird'),
      options(fakeEdges(lost), { overlap: true, guarded: guardedReload(lost, 'unreachable') }),
    );
    t.equal(unknown.diverged, true, 'BIRD may run it under its timer: a reload of the disk is owed');
    t.same(unknown.written, []);

    const unreadable = { calls: [] as string[] };
    const swappedAfter = await pipeline(
      input('bird'),
      options(fakeEdges(unreadable), { overlap: true, guarded: guardedReload(unreadable, 'unreadable') }),
    );
    t.same(
      unreadable.calls.slice(2),
      [
        'marker',
        'configure timeout /cfg/.staging-x',
        'remove marker',
        'swap bird_aggr.cfg,bird.cfg',
        'remove /cfg/.staging-x',
        'marker',
        'configure timeout disk',
      ],
      'BIRD cannot open the staged set: swap, then configure timeout of the files on disk',
    );
    t.ok(swappedAfter.stagedUnreadable);
    t.equal(swappedAfter.window?.staged, undefined);

    const sequential = { calls: [] as string[] };
    const swapped = await pipeline(
      input('bird'),
      options(fakeEdges(sequential), { guarded: guardedReload(sequential, 'applied') }),
    );
    t.same(
      sequential.calls,
      [
        'stage',
        'validate bird',
        'swap bird_aggr.cfg,bird.cfg',
        'remove /cfg/.staging-x',
        'marker',
        'configure timeout disk',
      ],
      'without the staged method: swap, then configure timeout',
    );
    t.same(swapped.window, { staged: undefined, names: ['bird_aggr.cfg', 'bird.cfg'], undo: undefined });

    const noMarker = { calls: [] as string[] };
    const plain = await pipeline(
      input('bird'),
      options(fakeEdges(noMarker), { overlap: true, guarded: guardedReload(noMarker, 'applied', false) }),
    );
    t.same(
      noMarker.calls.slice(-4),
      ['marker', 'swap bird_aggr.cfg,bird.cfg', 'remove /cfg/.staging-x', 'reload bird'],
      'a marker that cannot be written: applied unguarded',
    );
    t.equal(plain.windowOpened, false);

    const owed = { calls: [] as string[] };
    await pipeline(
      input('bird', true),
      options(fakeEdges(owed, { validate: async () => REFUSAL }), {
        overlap: true,
        guarded: guardedReload(owed, 'applied'),
      }),
    );
    t.same(
      owed.calls,
      ['stage', 'reload bird', 'remove /cfg/.staging-x'],
      "a reload owed for the disk's files is plain",
    );

    const stopping = new AbortController();
    const aborted = { calls: [] as string[] };
    const stopped = await pipeline(
      input('bird'),
      options(
        fakeEdges(aborted, {
          validate: async () => {
            stopping.abort();
            return undefined;
          },
        }),
        { overlap: true, guarded: guardedReload(aborted, 'applied'), signal: stopping.signal },
      ),
    );
    t.equal(stopped.aborted, true, 'stopping before BIRD was told: nothing sent');
    t.notOk(aborted.calls.includes('marker'));
  },
);

t.test(
  'the undo record: kept once BIRD took the new set, removed when it did not; a staged one at the swap',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'birdwatch-undo-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const record = join(dir, previousFilesName('bird'));
    const warnings: unknown[] = [];
    const undo = (): UndoRecord => new UndoRecord(dir, 'bird', Object.fromEntries(live), (e) => warnings.push(e));
    const temps = (): string[] => readdirSync(dir).filter((f) => f.includes('.tmp-'));

    await pipeline(
      input('bird'),
      options(fakeEdges({ calls: [] }, { reload: async (daemon) => ({ kind: 'rejected', daemon, message: 'x' }) }), {
        undo: undo(),
      }),
    );
    t.notOk(existsSync(record), 'BIRD refused: no record');
    t.same(temps(), [], 'and no temp file left');

    await pipeline(input('bird'), options(fakeEdges({ calls: [] }), { undo: undo() }));
    t.ok(existsSync(record), 'BIRD took the set: the record leads back to the files it ran');
    rmSync(record);

    const log = { calls: [] as string[] };
    const applied = async (daemon: Daemon): Promise<ReloadOutcome> => ({
      kind: 'applied',
      daemon,
      message: 'Reconfigured',
      ms: 1,
    });
    await pipeline(
      input('bird'),
      options(
        fakeEdges(log, {
          reloadStaged: applied,
          swap: async () => {
            log.calls.push(`record at the swap: ${existsSync(record)}`);
          },
        }),
        { overlap: true, undo: undo() },
      ),
    );
    t.same(log.calls, ['stage', 'validate bird', 'record at the swap: false', 'remove /cfg/.staging-x']);
    t.ok(existsSync(record), 'a staged set BIRD took: the record is put in place with the swap');
    rmSync(record);

    await pipeline(
      input('bird'),
      options(fakeEdges({ calls: [] }, { reloadStaged: applied, validate: async () => REFUSAL }), {
        overlap: true,
        undo: undo(),
      }),
    );
    t.notOk(existsSync(record), 'taken back (bird -p refused the staged set): no record');
    t.same(temps(), []);
    t.same(warnings, []);
  },
);
