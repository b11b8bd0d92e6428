import { createRequire } from 'node:module';
import type * as Etcd3Package from 'etcd3';
import { loadEtcd3, type Etcd3Load } from './etcdPackageDefinition.js';

/**
 * etcd3's values, for every module of birdwatch that uses one (its types are imported from 'etcd3' itself). etcd3 is
 * loaded here, once, by require() and with its prebuilt gRPC definition (etcdPackageDefinition.ts): whichever module
 * is evaluated first, etcd3 is loaded the fast way, and Node does not lex etcd3 and every module it re-exports for
 * their export names, as it does when ESM imports a CommonJS package (README "Benchmarks", CLI start-up).
 * @public which way etcd3 was loaded: test/etcd-package-definition.test.ts reads it in a child process.
 */
export const etcd3Load: Etcd3Load = loadEtcd3();

const etcd3 = createRequire(import.meta.url)('etcd3') as typeof Etcd3Package;

export const {
  castGrpcError,
  CompareResult,
  CompareTarget,
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
  GRPCOutOfRangeError,
  GRPCResourceExhastedError,
  isRecoverableError,
} = etcd3;
/** The client's instance type, under the value's name (as `import { Etcd3 } from 'etcd3'` gives both). */
export type Etcd3 = Etcd3Package.Etcd3;
