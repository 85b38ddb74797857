/**
 * Lion, "EvoLved Sign Momentum" (Chen et al. 2023, "Symbolic Discovery of Optimization
 * Algorithms", arXiv:2302.06675, Algorithm 2; official code google/automl `lion/lion_pytorch.py`):
 *   θ ← θ·(1 − lr·wd);  θ ← θ − lr·sign(β₁·m + (1−β₁)·g);  m ← β₂·m + (1−β₂)·g
 * Defaults are the official code's: lr 1e-4, betas (0.9, 0.99), weight decay 0. Because every
 * entry moves by ±lr, the paper suggests an lr 3–10× smaller than AdamW's and a wd 3–10× larger.
 * A variant in one short file: one transform from transforms.ts, then decoupled decay.
 */
import { defineOptimizer } from './define.js';
import { beta, learningRate, weightDecay } from './options.js';
import { addDecayedWeights, chain, scaleByLion } from './transforms.js';

const SOURCE = 'Chen et al. 2023 (google/automl lion_pytorch.py)';

export const Lion = defineOptimizer({
  name: 'lion',
  className: 'Lion',
  description: 'Lion: sign of interpolated momentum, decoupled weight decay (Chen et al. 2023)',
  options: {
    learningRate: learningRate(1e-4, SOURCE),
    beta1: beta(0.9, 'interpolation β₁ ∈ [0, 1) of momentum and gradient inside the sign', SOURCE),
    beta2: beta(0.99, 'momentum decay β₂ ∈ [0, 1)', SOURCE),
    weightDecay: weightDecay(0, 'decoupled decay θ·(1 − lr·wd)', SOURCE),
  },
  // Decay after the sign step is θ − lr·(sign(c) + wd·θ): the official θ·(1 − lr·wd) − lr·sign(c).
  plan: (o) => ({
    groups: { lion: { learningRate: o.learningRate, transform: chain(scaleByLion(o.beta1, o.beta2), addDecayedWeights(o.weightDecay)) } },
  }),
});
export type Lion = InstanceType<typeof Lion>;
