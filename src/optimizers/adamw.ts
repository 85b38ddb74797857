/** AdamW exactly as torch.optim.AdamW (REFERENCE §2): θ ← θ − lr·(m̂/(√v̂+eps) + wd·θ). */
import { defineOptimizer } from './composed.js';
import { beta, booleanOption, epsilon, learningRate, weightDecay } from './options.js';
import { addDecayedWeights, chain, scaleByAdam } from './transforms.js';

const TORCH = 'torch.optim.AdamW';

export const adamwOptions = {
  learningRate: learningRate(1e-3, TORCH),
  beta1: beta(0.9, 'first-moment decay β₁ ∈ [0, 1)', TORCH),
  beta2: beta(0.999, 'second-moment decay β₂ ∈ [0, 1)', TORCH),
  epsilon: epsilon(1e-8, 'added to √v̂ (torch; tfjs Adam uses 1e-7)', TORCH),
  weightDecay: weightDecay(1e-2, 'decoupled decay, multiplied by lr', TORCH),
  amsgrad: booleanOption(false, 'use the running max of v (AMSGrad)', TORCH),
};

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
