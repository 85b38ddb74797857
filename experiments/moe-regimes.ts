/**
 * A tiny mixture-of-experts on the mixture-of-regimes task: inputs fall into 8 clusters, each
 * labelled by its own random teacher, so experts have something to specialise on. 8 experts, top-2,
 * Switch balancing (α = 1e-2) and ST-MoE z-loss (1e-3). Router on AdamW (the Qwen / DeepSeek-V4
 * recipe, docs/references.md#muon); expert banks on Muon, orthogonalised per expert.
 *
 * Learning rates: runs use experiments/tuned/moe-regimes.json (`npm run tune -- moe-regimes`). The
 * LRs below anchor that tuning's grid: each grid point multiplies every group's LR by one factor,
 * so Muon's internal AdamW (router, biases, head) stays at 3/20 of the Muon LR.
 */
import { defineExperiment } from '../src/train/config.js';

export default defineExperiment({
  name: 'moe-regimes',
  description: 'tiny MoE (8 experts, top-2) on 8 clustered regression regimes',
  data: { kind: 'regimes', clusters: 8 },
  model: { kind: 'moe', experts: 8, topK: 2, expertHidden: 32, activation: 'relu' },
  steps: 400,
  batchSize: 128,
  evalEvery: 50,
  schedule: { kind: 'cosine', warmup: 20, minFactor: 0.1 },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 3e-3, weightDecay: 0.01 } },
    muon: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 3e-3 } } },
  },
  seeds: [0, 1, 2],
  quick: { steps: 30, evalEvery: 15, seeds: [0], evalSize: 512 },
});
