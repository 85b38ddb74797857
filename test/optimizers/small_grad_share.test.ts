/**
 * The 'smallGradShare' signal (docs/references.md#adam-spikes): the share of an Adam group's
 * coordinates with g² < SMALL_GRAD_FRACTION·v̂, counted beside the step without changing it, and
 * logged per group by the training loop.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { AdamW } from '../../src/index.js';
import { SMALL_GRAD_FRACTION } from '../../src/optimizers/transforms.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import { oneRun, tinyMlp } from '../train/fixtures.js';

beforeAll(async () => {
  await initBackend();
});

/** Two AdamW steps on one 4-vector; returns the variable after them and the drained counts. */
function twoSteps(collect: boolean, g2: number[]) {
  const name = `sgs_${collect}_${g2.join('_')}`;
  const w = tf.variable(tf.tensor1d([0.5, -0.5, 1, 2]), true, name);
  const opt = new AdamW({ learningRate: 0.1, beta2: 0.999, weightDecay: 0 });
  opt.collectUpdateStats = true;
  opt.collectSignals = collect;
  const shares: number[] = [];
  for (const g of [[1, 1, 1, 1], g2]) {
    tf.tidy(() => opt.applyGradients({ [name]: tf.tensor1d(g) }));
    const drained = opt.drainSignalStats();
    if (drained) {
      expect(drained.entries).toEqual([{ signal: 'smallGradShare', group: 'adamw' }]);
      shares.push(drained.sums.dataSync()[0]! / drained.counts[0]!);
      drained.sums.dispose();
    }
    opt.drainUpdateStats()?.sumSq.dispose();
  }
  const after = Array.from(w.dataSync());
  w.dispose();
  opt.dispose();
  return { after, shares };
}

describe('smallGradShare', () => {
  it('counts coordinates with g² < f·v̂, by hand, and leaves the update and memory unchanged', () => {
    const g2 = [1, 0.05, 0.2, 0];
    // An optimizer leaves one tensor behind whether or not it counts (tfjs's own bookkeeping): the
    // counting must add none.
    let before = tf.memory().numTensors;
    twoSteps(false, g2);
    const plain = tf.memory().numTensors - before;
    before = tf.memory().numTensors;
    const { after, shares } = twoSteps(true, g2);
    expect(tf.memory().numTensors - before).toBe(plain);
    // Step 1: v̂ = g² (bias correction), nothing is below 1 % of itself.
    expect(shares[0]).toBe(0);
    // Step 2: v̂ = (β₂(1−β₂)·1 + (1−β₂)·g²)/(1 − β₂²).
    const b2 = 0.999;
    const expected = g2.filter((g) => g * g < (SMALL_GRAD_FRACTION * (b2 * (1 - b2) + (1 - b2) * g * g)) / (1 - b2 * b2)).length / 4;
    expect(expected).toBe(0.5); // 0.05² and 0² are below ≈ 0.005; 1 and 0.2² are not
    expect(shares[1]).toBeCloseTo(expected, 12);
    expect(twoSteps(false, g2).after).toEqual(after);
  });

  it('the loop logs it for the Adam groups only: AdamW\'s group, and Muon\'s internal AdamW but not its Muon group', async () => {
    for (const label of ['adamw', 'muon']) {
      const recs: StepRecord[] = [];
      await train({ ...oneRun(tinyMlp, label), steps: 5 }, { onRecord: (r) => recs.push(r) });
      for (const r of recs) {
        expect(Object.keys(r.smallGradShare ?? {})).toEqual(['adamw']);
        const share = r.smallGradShare!['adamw']!;
        expect(share).toBeGreaterThanOrEqual(0);
        expect(share).toBeLessThanOrEqual(1);
      }
    }
  });
});
