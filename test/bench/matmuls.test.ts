/**
 * The matmuls a training step executes (tf.profile of the loop's step) against the FLOP model:
 * for the transformer LMs, dense and MoE, on AdamW and Muon, the model counts exactly what runs.
 * No timing here: speed targets live in the bench (src/bench/bench.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { expandRuns } from '../../src/train/config.js';
import { matmulShapeOf, stepMatmuls, totalMatmulFlops } from '../../src/bench/matmuls.js';
import { tinyLm } from '../../src/bench/bench.js';
import { modelMatrices, modelStepFlops, muonMatrixNames } from '../../src/models/flops.js';
import { dataDims } from '../../src/study/cost.js';
import lmBrown from '../../experiments/lm-brown.js';
import lmMoe from '../../experiments/lm-moe.js';
import mnistMlp from '../../experiments/mnist-mlp.js';

beforeAll(async () => {
  await initBackend();
});

describe('matmulShapeOf', () => {
  it('reads m, k, n whatever the transposes', () => {
    expect(matmulShapeOf([3, 5], [3, 7])).toEqual({ rank: 2, batch: 1, m: 3, k: 5, n: 7 });
    expect(matmulShapeOf([5, 3], [3, 7])).toEqual({ rank: 2, batch: 1, m: 3, k: 5, n: 7 }); // transposeA
    expect(matmulShapeOf([4, 2, 6], [4, 2, 9])).toEqual({ rank: 3, batch: 4, m: 2, k: 6, n: 9 });
  });
});

describe('the FLOP model against the matmuls a step executes', () => {
  for (const [name, spec] of [
    ['dense LM', lmBrown],
    ['MoE LM', lmMoe],
  ] as const) {
    for (const label of ['adamw', 'muon']) {
      it(`${name}, ${label}: equal`, async () => {
        const config = expandRuns(tinyLm(spec), { optimizers: [label], seeds: [0], steps: 1 })[0]!;
        const before = tf.memory().numTensors;
        const counts = await stepMatmuls(config);
        expect(tf.memory().numTensors).toBe(before);
        const { inputDim, outputDim } = dataDims(config.data);
        const names = label === 'muon' ? muonMatrixNames(modelMatrices(config.model, inputDim, outputDim)) : [];
        expect(totalMatmulFlops(counts)).toBe(modelStepFlops(config.model, inputDim, outputDim, config.batchSize, names, 5));
        // The attention's per-head products run as batched matmuls [B·H, ·, ·].
        expect(counts.some((c) => c.shape.rank === 3 && c.shape.batch === config.batchSize * 2)).toBe(true);
      });
    }
  }

  it('MLP: the model counts 6·B·m·n per matrix, and tfjs skips the first layer input gradient (2·B·784·256)', async () => {
    const config = expandRuns(mnistMlp, { optimizers: ['adamw'], seeds: [0], steps: 1 })[0]!;
    const counts = await stepMatmuls(config);
    const B = config.batchSize;
    expect(modelStepFlops(config.model, 784, 10, B, [], 5) - totalMatmulFlops(counts)).toBe(2 * B * 784 * 256);
  });
});
