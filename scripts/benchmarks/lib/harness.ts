/**
 * The one place the benchmarks take the test harnesses from: the same real etcd, BIRD, network namespaces and
 * loopback proxy the tests start, stopped the same way (by PID; namespaces deleted also when a run fails).
 */
export { startBird, writeMinimalConfig, type BirdProcess } from '../../../test/harness/bird.js';
export { startEtcd, type EtcdCluster } from '../../../test/harness/etcd.js';
export { canCreateNamespaces, createNamespace, type NetworkNamespace } from '../../../test/harness/netns.js';
export { envWithout, freePort, type TeardownRegistrar } from '../../../test/harness/process.js';
export { startTcpProxy } from '../../../test/harness/tcpProxy.js';
export { bird16, birdOfVersion, isMissing, type InstalledBird } from '../../../test/support/birdVersions.js';
