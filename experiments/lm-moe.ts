/**
 * The tiny character-level transformer LM with a mixture-of-experts FFN in every block:
 * 8 experts (hidden 64, GELU), top-2, Switch balancing α = 1e-2 and ST-MoE router z-loss 1e-3
 * (docs/references.md#moe), applied per token. Muon takes the attention matrices and the expert banks
 * (orthogonalised per expert); the router, embeddings, head, gains and expert biases go to its
 * internal AdamW (Keller's rule; the router by Qwen's choice, docs/references.md#muon).
 *
 * Learning rates: from its tuning record, experiments/tuned/lm-moe.json (`npm run tune -- lm-moe
 * --seeds 1`); the LRs written here only anchor the tuning grids.
 */
import { defineExperiment } from '../src/train/config.js';
import dense from './lm-brown.js';

export default defineExperiment({
  ...dense,
  name: 'lm-moe',
  description: 'char-level transformer LM with an MoE FFN (8 experts, top-2) on the Brown Corpus',
  model: { ...dense.model, kind: 'transformer', ffn: 'moe', moe: { experts: 8, expertHidden: 64, topK: 2, activation: 'gelu' } },
});
