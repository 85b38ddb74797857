/** AdamW exactly as torch.optim.AdamW (docs/references.md#adamw): θ ← θ − lr·(m̂/(√v̂+eps) + wd·θ). */
import { defineOptimizer } from './define.js';
import { adamOptionSpecs } from './options.js';
import { addDecayedWeights, chain, scaleByAdam } from './transforms.js';

/** torch's defaults; note eps 1e-8 where tfjs's own Adam uses 1e-7 (docs/references.md#adamw). */
export const adamwOptions = adamOptionSpecs(
  { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-2, decayDoc: 'decoupled decay, multiplied by lr' },
  'torch.optim.AdamW',
);

export const AdamW = defineOptimizer({
  name: 'adamw',
  className: 'AdamW',
  description: 'AdamW (decoupled weight decay), torch.optim.AdamW semantics',
  options: adamwOptions,
  plan: (o) => ({
    groups: {
      adamw: {
        learningRate: o.learningRate,
        transform: chain(scaleByAdam(o), addDecayedWeights(o.weightDecay)),
      },
    },
  }),
});
export type AdamW = InstanceType<typeof AdamW>;
