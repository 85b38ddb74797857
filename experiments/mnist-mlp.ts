/**
 * MNIST digits (the `mnist` package, fixed stratified 80/20 split), a 784-256-10 ReLU MLP,
 * Muon vs AdamW. Muon takes the hidden matrix; the head and biases go to its internal AdamW.
 *
 * Learning rates: runs use experiments/tuned/mnist-mlp.json (`npm run tune -- mnist-mlp`). The LRs
 * below anchor that tuning's grid: each grid point multiplies every group's LR by one factor, so
 * Muon's internal AdamW (head, biases) stays at 1/4 of the Muon LR.
 */
import { defineExperiment } from '../src/train/config.js';

export default defineExperiment({
  name: 'mnist-mlp',
  description: 'MNIST MLP 784-256-10 (ReLU), batch 128, warmup + cosine',
  data: { kind: 'mnist' },
  model: { kind: 'mlp', hidden: [256], activation: 'relu' },
  steps: 300,
  batchSize: 128,
  evalEvery: 50,
  schedule: { kind: 'cosine', warmup: 15, minFactor: 0.1 },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 5e-3, weightDecay: 0.01 } },
    muon: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 5e-3 } } },
  },
  seeds: [0, 1, 2],
  quick: { steps: 30, evalEvery: 15, seeds: [0], evalSize: 500 },
});
