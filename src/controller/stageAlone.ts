import type { Logger } from '../observe/logger.js';
import type { LogEvent } from '../observe/logEvents.js';
import {
  runDaemonPipeline,
  type DaemonPipelineInput,
  type DaemonPipelineResult,
  type PipelineContext,
} from './applyPipeline.js';
import type { DaemonPlan } from './applyPlan.js';

/**
 * Daemons whose staging ran out of space while every daemon staged side by side go again one at a time, once
 * the others' staging dirs are gone: staging needs the largest daemon's set free, not the sum (README
 * "Reliability"). `results` is updated in place.
 */
export async function stageAloneWhereFull(
  plans: readonly DaemonPlan[],
  results: DaemonPipelineResult[],
  input: DaemonPipelineInput,
  context: PipelineContext,
  log: Logger,
): Promise<void> {
  if (plans.length < 2) return;
  for (const [i, plan] of plans.entries()) {
    if (!results[i]!.failure?.noSpace || context.signal?.aborted) continue;
    log.info(
      { component: 'apply', daemon: plan.daemon, event: 'staged-alone' satisfies LogEvent },
      `no space to stage ${plan.daemon}'s files beside the other daemons'; staging them alone`,
    );
    results[i] = await runDaemonPipeline(plan, input, context);
  }
}
