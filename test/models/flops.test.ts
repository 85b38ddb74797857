/**
 * The FLOP model of a training step (src/models/flops.ts) for the transformer LM, against a count
 * by hand for tiny configurations. test/bench/matmuls.test.ts checks it against the matmuls a
 * step actually executes.
 */
import { describe, expect, it } from 'vitest';
import { attentionStepFlops, embeddingStepFlops, gateBiasStepFlops, modelMatrices, modelStepFlops, muonMatrixNames } from '../../src/models/flops.js';
import { TRANSFORMER_DEFAULTS, type TransformerSpec } from '../../src/models/transformer.js';

// d 8, 2 heads, 1 block, context 4, batch 2 (8 token rows), vocabulary 5.
const V = 5;
const B = 2;
const dense: TransformerSpec = { ...TRANSFORMER_DEFAULTS, kind: 'transformer', dModel: 8, heads: 2, layers: 1, context: 4, ffn: 'dense' };
const moe: TransformerSpec = { ...dense, ffn: 'moe', moe: { ...TRANSFORMER_DEFAULTS.moe, experts: 3, expertHidden: 4, topK: 2 } };

describe('FLOP model of the transformer, by hand', () => {
  it('dense FFN: projections, FFN and head at 6·rows·m·n, attention over the full T×T, the embedding one-hot·E at 4·rows·V·d', () => {
    const projections = 4 * (6 * 8 * 8 * 8); // Wq, Wk, Wv, Wo: 8 rows × [8, 8]
    const ffn = 2 * (6 * 8 * 8 * 32); // W1 [8, 32], W2 [32, 8]
    const head = 6 * 8 * 8 * V;
    // q·kᵀ and p·v: 2 heads × [4, 4]·[4, 4] per sequence, 2 sequences: 2·2·(2·4·4·4) each forward; backward twice.
    const attention = 3 * 2 * (B * 2 * (2 * 4 * 4 * 4));
    const embedding = 2 * (2 * 8 * V * 8); // forward one-hot·E, backward one-hotᵀ·dy (no gradient to the ids)
    expect(attention).toBe(attentionStepFlops(dense, B));
    expect(embedding).toBe(embeddingStepFlops(dense, B, V));
    expect(gateBiasStepFlops(dense, V, B)).toBe(0);
    const adamw = projections + ffn + head + attention + embedding;
    expect(adamw).toBe(43136);
    expect(modelStepFlops(dense, V, V, B, [], 5)).toBe(adamw);
    // Muon: Newton–Schulz (5 steps, 4m²n + 2m³ each, m ≤ n) on Wq, Wk, Wv, Wo, W1, W2; not on the head.
    const names = muonMatrixNames(modelMatrices(dense, V, V));
    expect(names).toEqual(['layer0/wq', 'layer0/wk', 'layer0/wv', 'layer0/wo', 'layer0/w1', 'layer0/w2']);
    const ns = 4 * 5 * (4 * 8 * 8 * 8 + 2 * 8 ** 3) + 2 * 5 * (4 * 8 * 8 * 32 + 2 * 8 ** 3);
    expect(modelStepFlops(dense, V, V, B, names, 5)).toBe(adamw + ns);
  });

  it('MoE FFN: router, every expert on every token, and the gates × output biases', () => {
    const router = 6 * 8 * 8 * 3;
    const experts = 3 * (6 * 8 * 8 * 4) + 3 * (6 * 8 * 4 * 8); // w1 [3, 8, 4], w2 [3, 4, 8], all 8 rows
    const gateBias = 6 * 8 * 3 * 8; // g [8, 3] · b2 [3, 8]
    expect(gateBiasStepFlops(moe, V, B)).toBe(gateBias);
    const rest = 4 * (6 * 8 * 8 * 8) + 6 * 8 * 8 * V + attentionStepFlops(moe, B) + embeddingStepFlops(moe, B, V);
    expect(modelStepFlops(moe, V, V, B, [], 5)).toBe(rest + router + experts + gateBias);
    // Muon orthogonalises each expert of the banks, not the router.
    const names = muonMatrixNames(modelMatrices(moe, V, V));
    expect(names).toEqual(['layer0/wq', 'layer0/wk', 'layer0/wv', 'layer0/wo', 'layer0/w1', 'layer0/w2']);
    const ns = 4 * 5 * (6 * 8 ** 3) + 2 * 3 * 5 * (4 * 4 * 4 * 8 + 2 * 4 ** 3);
    expect(modelStepFlops(moe, V, V, B, names, 5)).toBe(rest + router + experts + gateBias + ns);
  });

  it('the causal mask does not halve the attention work, and it grows with T²', () => {
    const long = { ...dense, context: 8 };
    expect(attentionStepFlops(long, B)).toBe(4 * attentionStepFlops(dense, B));
  });
});
