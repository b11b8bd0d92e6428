/**
 * A child `birdwatch run` for the tests that SIGKILL birdwatch at an exact step of a cycle: the run loop `run`
 * builds (RunController, the real edges, the apply guard, the BIRD watcher), its edges wrapped with a pause point
 * (test/support/pausePoints.ts). When the cycle reaches the step it prints `{"event":"test-paused",…}` and waits
 * there for ever — for the test's SIGKILL. Test-only: production code has no such branch.
 *
 *   node --import tsx test/support/pausingBirdwatch.ts '<PausingBirdwatchConfig as JSON>'
 */
import { lockConfigDir } from '../../src/apply/configDirLock.js';
import { nodeRole } from '../../src/controller/roleRenderer.js';
import { realBirdEdges, realPipelineEdges } from '../../src/controller/realEdges.js';
import { RunController } from '../../src/controller/runController.js';
import { createEtcdClient } from '../../src/datastore/etcdConnection.js';
import { etcdKeyspaceSource } from '../../src/datastore/keyspaceSource.js';
import type { ApplyGuardSettings } from '../../src/controller/guard/settings.js';
import type { Daemon } from '../../src/model/daemon.js';
import { createLogger } from '../../src/observe/logger.js';
import { pausingBirdEdges, pausingPipelineEdges, PausePoints, type PauseStep } from './pausePoints.js';

export interface PausingBirdwatchConfig {
  readonly node: string;
  readonly configDir: string;
  readonly endpoints: readonly string[];
  readonly sockets: Readonly<Record<Daemon, string>>;
  readonly templatesDir?: string;
  readonly guard: ApplyGuardSettings;
  /** false: `--sequential-reload`. */
  readonly overlap: boolean;
  readonly pause: { readonly step: PauseStep; readonly daemon?: Daemon; readonly nth?: number };
}

const config = JSON.parse(process.argv[2] ?? '{}') as PausingBirdwatchConfig;
const log = createLogger({ level: 'info', pretty: false });
const points = new PausePoints();
const pause = points.arm(config.pause.step, config.pause);
pause.reached
  .then(() => process.stdout.write(`${JSON.stringify({ event: 'test-paused', ...config.pause })}\n`))
  .catch(() => undefined);
const bird = pausingBirdEdges(realBirdEdges(config.sockets), points);
const client = createEtcdClient({ endpoints: config.endpoints });
const controller = await RunController.create({
  role: nodeRole(config.node, 'off'),
  configDir: config.configDir,
  edges: pausingPipelineEdges(realPipelineEdges({ binaries: { bird: 'bird', bird6: 'bird6' }, log }), points),
  bird,
  lockConfigDir,
  templatesDir: config.templatesDir,
  minReloadIntervalMs: 50,
  keyspace: etcdKeyspaceSource({ client }),
  log,
  guard: { settings: config.guard, edges: bird },
  overlap: config.overlap,
  watch: { edges: bird },
});
await controller.run(new AbortController().signal);
