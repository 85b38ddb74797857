/**
 * Study v3's long-horizon phase and width variants, as planning on top of protocol.ts: the
 * long-horizon runs (the stress protocol over a horizon of so many tokens per active parameter)
 * and the width variants of a transformer task for the width trend.
 */
import type { ExperimentSpec, ModelSpec } from '../train/config.js';
import { modelParamCounts, type ParamCounts } from '../models/flops.js';
import { dataDims } from './cost.js';
import { experimentFileOf, longDirName, longSeedsOf, multLabel, planStress, type PlannedRun, type StudySpec, type StudyTask } from './protocol.js';

/**
 * The long-horizon runs of one task and optimizer at its tuned LR: the stress runs' protocol
 * (warm-up, then constant) over the horizon longHorizon computes, at each of the phase's multipliers,
 * with the task's long-horizon seeds (longSeedsOf).
 */
export function planLong(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  task: StudyTask,
  label: string,
  tunedLr: number,
): PlannedRun[] {
  const long = study.long;
  if (!long || !long.tasks.includes(task.experiment)) return [];
  const steps = longHorizon(study, experiments, task).steps;
  return planStress(study, experiments, { ...task, stressSteps: steps }, label, tunedLr, long.multipliers, longSeedsOf(long, task.experiment)).map((p) => ({
    ...p,
    phase: 'long' as const,
    config: { ...p.config, optimizer: { ...p.config.optimizer, lrSource: `long horizon: ${multLabel(p.multiplier)} the study's tuned LR` } },
    dirName: longDirName(task.experiment, label, p.multiplier, p.seed),
  }));
}

export interface LongHorizon {
  readonly params: ParamCounts;
  /** Tokens per step: windows per batch × context. */
  readonly tokensPerStep: number;
  readonly steps: number;
  readonly tokens: number;
  /** tokens / active non-embedding parameters (≥ the spec's target; rounding up to whole steps). */
  readonly tokensPerActiveParam: number;
}

/**
 * The long-horizon phase's length for a transformer task: the fewest steps giving the spec's
 * tokens per active non-embedding parameter (modelParamCounts: the router and the top-k experts
 * of each MoE layer, attention, gains and the output head; the token and position embeddings
 * aside, as in compute-optimal scaling's parameter counts).
 */
export function longHorizon(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>, task: StudyTask): LongHorizon {
  const target = study.long?.tokensPerActiveParam ?? 0;
  // Any run's config carries the resolved model and batch.
  const config = planStress(study, experiments, task, study.baseline, 1, [1], [0])[0]!.config;
  if (config.model.kind !== 'transformer') throw new Error(`long horizon: task ${task.experiment} is not a transformer language model`);
  const { inputDim, outputDim } = dataDims(config.data);
  const params = modelParamCounts(config.model, inputDim, outputDim);
  const tokensPerStep = config.batchSize * config.model.context;
  const steps = Math.max(1, Math.ceil((target * params.activeNonEmbedding) / tokensPerStep));
  return { params, tokensPerStep, steps, tokens: steps * tokensPerStep, tokensPerActiveParam: (steps * tokensPerStep) / params.activeNonEmbedding };
}

/**
 * A width variant of a transformer task (the width trend): d_model `dModel`, heads scaled with it
 * (head width kept), MoE expert width scaled with it (its ratio to d kept). Named `<task>-d<dModel>`
 * and tagged so the analysis can fit the trend; its LRs are tuned on their own.
 */
export function widthVariant(task: StudyTask, reference: ModelSpec, dModel: number, extra: Partial<StudyTask> = {}): StudyTask {
  const m = (task.model ?? reference) as Extract<ModelSpec, { kind: 'transformer' }>;
  const ref = reference as Extract<ModelSpec, { kind: 'transformer' }>;
  const d0 = m.dModel ?? ref.dModel;
  const heads0 = m.heads ?? ref.heads;
  if (m.kind !== 'transformer' || d0 === undefined || heads0 === undefined) throw new Error(`widthVariant: task ${task.experiment} needs a transformer with dModel and heads`);
  const scale = dModel / d0;
  const heads = Math.max(1, Math.round(heads0 * scale));
  const moe = m.moe ?? ref.moe;
  return {
    ...task,
    ...extra,
    experiment: `${task.experiment}-d${dModel}`,
    base: experimentFileOf(task),
    width: { of: task.experiment, dModel },
    model: {
      ...m,
      dModel,
      heads,
      ...(moe ? { moe: { ...moe, ...(moe.expertHidden !== undefined ? { expertHidden: Math.max(1, Math.round(moe.expertHidden * scale)) } : {}) } } : {}),
    },
  };
}
