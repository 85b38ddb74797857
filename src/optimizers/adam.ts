/** Adam as torch.optim.Adam: weight decay is L2, added to the gradient before the moments. */
import { defineOptimizer } from './composed.js';
import { beta, booleanOption, epsilon, learningRate, weightDecay } from './options.js';
import { addDecayedWeights, chain, scaleByAdam } from './transforms.js';

const TORCH = 'torch.optim.Adam';

export const Adam = defineOptimizer({
  name: 'adam',
  // 'Adam' is tfjs's own AdamOptimizer; a second class under that name would replace it.
  className: 'TorchAdam',
  description: 'Adam with L2 weight decay (coupled), torch.optim.Adam semantics',
  options: {
    learningRate: learningRate(1e-3, TORCH),
    beta1: beta(0.9, 'first-moment decay β₁ ∈ [0, 1)', TORCH),
    beta2: beta(0.999, 'second-moment decay β₂ ∈ [0, 1)', TORCH),
    epsilon: epsilon(1e-8, 'added to √v̂', TORCH),
    weightDecay: weightDecay(0, 'L2 penalty added to the gradient', TORCH),
    amsgrad: booleanOption(false, 'use the running max of v (AMSGrad)', TORCH),
  },
  plan: (o) => ({
    groups: {
      adam: { learningRate: o.learningRate, transform: chain(addDecayedWeights(o.weightDecay), scaleByAdam(o)) },
    },
  }),
});
export type Adam = InstanceType<typeof Adam>;
