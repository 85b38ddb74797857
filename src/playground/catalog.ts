/**
 * The experiments the playground offers, imported from experiments/ with their tuning records
 * applied exactly as the CLI applies them (applyTuning), so default LRs are the CLI's.
 */
import mnistMlp from '../../experiments/mnist-mlp.js';
import moeRegimes from '../../experiments/moe-regimes.js';
import lmMoe from '../../experiments/lm-moe.js';
import mnistTuned from '../../experiments/tuned/mnist-mlp.json' with { type: 'json' };
import moeTuned from '../../experiments/tuned/moe-regimes.json' with { type: 'json' };
import lmMoeTuned from '../../experiments/tuned/lm-moe.json' with { type: 'json' };
import { applyTuning, type TunedRecord } from '../study/tuned_record.js';
import { expandRuns, type ExperimentSpec } from '../train/config.js';
import { listOptimizers } from '../optimizers/index.js';
import type { ExperimentInfo, OptimizerChoice } from './protocol.js';

/** lm-moe's page default: long enough to see learning, short enough for a browser (its spec runs 1000). */
const LM_DEFAULT_STEPS = 150;

const SOURCES: readonly { spec: ExperimentSpec; record: TunedRecord; defaultSteps?: number }[] = [
  { spec: mnistMlp, record: mnistTuned as unknown as TunedRecord },
  { spec: moeRegimes, record: moeTuned as unknown as TunedRecord },
  { spec: lmMoe, record: lmMoeTuned as unknown as TunedRecord, defaultSteps: LM_DEFAULT_STEPS },
];

export const SPECS: ReadonlyMap<string, ExperimentSpec> = new Map(
  SOURCES.map(({ spec, record }) => [spec.name, applyTuning(spec, record, `experiments/tuned/${spec.name}.json`).spec]),
);

/** Every label the CLI's --optimizers accepts for this spec: its own, then each registered optimizer it does not use. */
function choices(spec: ExperimentSpec): OptimizerChoice[] {
  const labels = [...Object.keys(spec.optimizers), ...listOptimizers().map((o) => o.name).filter((n) => !(n in spec.optimizers))];
  const out: OptimizerChoice[] = [];
  for (const label of labels) {
    try {
      const [run] = expandRuns(spec, { optimizers: [label], seeds: [0] });
      const info = listOptimizers().find((o) => o.name === run!.optimizer.name);
      const lr = (run!.optimizer.options?.['learningRate'] ?? info?.options.find((o) => o.name === 'learningRate')?.default) as number;
      if (typeof lr !== 'number') continue;
      out.push({ label, name: run!.optimizer.name, defaultLr: lr, lrSource: run!.optimizer.lrSource ?? 'optimizer default', inSpec: label in spec.optimizers });
    } catch {
      // An optimizer this experiment cannot use (its spec check says why in the CLI) is not offered.
    }
  }
  return out;
}

export function experimentInfos(): ExperimentInfo[] {
  return SOURCES.map(({ spec, defaultSteps }) => ({
    name: spec.name,
    description: spec.description ?? '',
    defaultSteps: defaultSteps ?? spec.steps,
    data: spec.data.kind === 'mnist' ? 'mnist' : spec.data.kind === 'brown' ? 'brown' : 'synthetic',
    optimizers: choices(SPECS.get(spec.name)!),
  }));
}
