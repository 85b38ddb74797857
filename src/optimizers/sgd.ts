/** SGD with heavy-ball or Nesterov momentum, torch.optim.SGD semantics (dampening 0). */
import { defineOptimizer } from './define.js';
import { booleanOption, learningRate, numberOption, weightDecay } from './options.js';
import { addDecayedWeights, chain, heavyBallMomentum } from './transforms.js';

export const SGD = defineOptimizer({
  name: 'sgd',
  // 'SGD' is tfjs's own SGDOptimizer.
  className: 'TorchSGD',
  description: 'SGD with momentum (heavy-ball or Nesterov), torch.optim.SGD semantics',
  options: {
    learningRate: learningRate(1e-2, 'sandbox choice (torch has 1e-3)'),
    momentum: numberOption(0.9, { min: 0, max: 1, maxExclusive: true }, 'momentum μ ∈ [0, 1)', 'sandbox choice (torch has 0)'),
    nesterov: booleanOption(false, 'Nesterov momentum', 'torch.optim.SGD'),
    weightDecay: weightDecay(0, 'L2 penalty added to the gradient', 'torch.optim.SGD'),
  },
  plan: (o) => ({
    groups: {
      sgd: {
        learningRate: o.learningRate,
        transform: chain(addDecayedWeights(o.weightDecay), heavyBallMomentum(o.momentum, o.nesterov)),
      },
    },
  }),
});
export type SGD = InstanceType<typeof SGD>;
