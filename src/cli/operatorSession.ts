import { ConcurrentChangeError, OperatorConflictError, OperatorNotFoundError } from '../operator/errors.js';
import type { OperatorStore } from '../operator/store.js';
import { resolveEtcdOptions, type EtcdFlags } from './commonOptions.js';
import type { CommandContext } from './context.js';
import { UsageError } from './usageError.js';

/**
 * Runs one operator command against etcd: connects (flags, then ETCD_* variables), runs `body`, closes.
 * A refusal that depends on the datastore (OperatorConflictError) becomes a UsageError naming the argument
 * that held the value (`argumentOf[value]`): exit 2. Not found, or a write that lost to concurrent writers
 * too often: one `error:` line, exit 1. Nothing is written in either case.
 */
export async function runOperatorCommand(
  flags: EtcdFlags,
  context: CommandContext,
  argumentOf: Readonly<Record<string, string>>,
  body: (store: OperatorStore) => Promise<void>,
): Promise<void> {
  const options = resolveEtcdOptions(flags, context.env);
  // Loaded here, not at the top: etcd3 (grpc, protobuf) is most of a command's start-up cost, and `--help` needs none
  // of it.
  const [{ createEtcdClient }, { readEtcdSnapshot }, { EtcdWriter }] = await Promise.all([
    import('../datastore/etcdConnection.js'),
    import('../datastore/etcdSource.js'),
    import('../datastore/etcdWriter.js'),
  ]);
  const client = createEtcdClient(options);
  const writer = new EtcdWriter(client);
  const store: OperatorStore = {
    read: (prefixes) => readEtcdSnapshot(client, prefixes),
    commit: (txn) => writer.commit(txn),
  };
  try {
    await body(store);
  } catch (error) {
    if (error instanceof OperatorConflictError)
      throw new UsageError(argumentOf[error.value] ?? 'argument', error.value, error.reason);
    if (error instanceof OperatorNotFoundError || error instanceof ConcurrentChangeError) {
      context.stderr(`error: ${error.message}`);
      context.setExitCode(1);
      return;
    }
    throw error;
  } finally {
    client.close();
  }
}
