/** The targets the report judges (README "Benchmarks"): a MISS is reported, not failed. Memory in MB (10^6 bytes). */

export interface Targets {
  /** put → visible over the bare floor, judged at every latency size. */
  readonly latencyP50Ratio: number;
  readonly latencyP90Ratio: number;
  readonly anatomyNodes: number;
  /** Share of the storm's time BIRD spends reconfiguring. */
  readonly stormReconfiguringShare: number;
  /** Last put → every storm host visible, by mesh size. */
  readonly stormVisibleMs: Readonly<Record<number, number>>;
  /** Peak RSS of the running birdwatch, by mesh size (MB). */
  readonly peakRssMb: Readonly<Record<number, number>>;
  readonly coldNodes: number;
  readonly coldMs: number;
  readonly coldPeakRssMb: number;
  readonly renderMs: number;
  readonly idleNodes: number;
}

export const TARGETS: Targets = {
  latencyP50Ratio: 1.3,
  latencyP90Ratio: 1.6,
  anatomyNodes: 1000,
  stormReconfiguringShare: 0.25,
  stormVisibleMs: { 1000: 100, 5000: 300 },
  peakRssMb: { 1000: 75, 5000: 90 },
  coldNodes: 10_000,
  coldMs: 2000,
  coldPeakRssMb: 200,
  renderMs: 30,
  idleNodes: 1000,
};

/** CLI start-up: p50 wall time (ms) and peak RSS (MB) of one invocation. */
export const STARTUP_TARGETS = {
  versionMs: 150,
  versionRssMb: 60,
  /** Each one-shot command: status, check, pool show, node show, bgp peer add. */
  oneShotMs: 250,
  /** `run` from spawn to the first byte etcd receives. */
  runFirstRequestMs: 300,
};
