import type { Test } from 'tap';
import { cli, type CliResult } from './cli.js';
import { currentRevision, dumpKeyspace } from './etcdKeyspace.js';

/** An operator CLI bound to one test etcd, with the check every refused command must pass. */
export interface OperatorCli {
  run(...args: string[]): Promise<CliResult>;
  /** Must be refused: exit `code`, one stderr line matching `message`, nothing reported, not a single write. */
  refused(t: Test, args: string[], message: RegExp, code?: number): Promise<void>;
}

export function operatorCli(endpoints: readonly string[]): OperatorCli {
  const env = { ETCD_ENDPOINTS: endpoints.join(',') };
  const run = (...args: string[]): Promise<CliResult> => cli(args, env);
  return {
    run,
    async refused(t, args, message, code = 2) {
      const before = await dumpKeyspace(endpoints);
      const revision = await currentRevision(endpoints);
      const result = await run(...args);
      t.equal(result.code, code, `${args.join(' ')} exits ${code}`);
      t.match(result.stderr, message);
      t.equal(result.stderr.split('\n').length, 1, 'one line');
      t.equal(result.stdout, '', 'nothing reported as written');
      t.same(await dumpKeyspace(endpoints), before, 'keyspace unchanged');
      t.equal(await currentRevision(endpoints), revision, 'no write at all (revision unchanged)');
    },
  };
}
