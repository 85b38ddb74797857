/**
 * A tiny character-level transformer language model on the Brown Corpus: d 64, 4 heads,
 * 2 blocks, context 64, dense GELU FFN (4d), batch 32 windows. Muon takes Wq, Wk, Wv, Wo, W1, W2;
 * the embeddings, the output head and the norm gains go to its internal AdamW (Keller's rule,
 * docs/references.md#muon), given AdamW's learning rate so that only the matrix update rule differs.
 *
 * Learning rates: from its tuning record, experiments/tuned/lm-brown.json (`npm run tune -- lm-brown
 * --seeds 1`); the LRs written here only anchor the tuning grids.
 */
import { defineExperiment } from '../src/train/config.js';

export default defineExperiment({
  name: 'lm-brown',
  description: 'char-level transformer LM (d 64, H 4, L 2, T 64, dense FFN) on the Brown Corpus',
  data: { kind: 'brown' },
  model: { kind: 'transformer', dModel: 64, heads: 4, layers: 2, context: 64, ffn: 'dense' },
  steps: 1000,
  batchSize: 32,
  evalEvery: 100,
  evalSize: 256,
  schedule: { kind: 'cosine', warmup: 50, minFactor: 0.1 },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 3e-3, weightDecay: 0.01 } },
    muon: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 3e-3 } } },
  },
  seeds: [0, 1, 2],
  quick: { steps: 30, evalEvery: 15, seeds: [0], evalSize: 32 },
});
