/** Adam as torch.optim.Adam: weight decay is L2, added to the gradient before the moments. */
import { defineOptimizer } from './define.js';
import { adamOptionSpecs } from './options.js';
import { addDecayedWeights, chain, scaleByAdam } from './transforms.js';

export const Adam = defineOptimizer({
  name: 'adam',
  // 'Adam' is tfjs's own AdamOptimizer; a second class under that name would replace it.
  className: 'TorchAdam',
  description: 'Adam with L2 weight decay (coupled), torch.optim.Adam semantics',
  options: adamOptionSpecs(
    { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decayDoc: 'L2 penalty added to the gradient' },
    'torch.optim.Adam',
  ),
  plan: (o) => ({
    groups: {
      adam: { learningRate: o.learningRate, transform: chain(addDecayedWeights(o.weightDecay), scaleByAdam(o)) },
    },
  }),
});
export type Adam = InstanceType<typeof Adam>;
