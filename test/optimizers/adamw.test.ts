/** AdamW against the float64 torch.optim.AdamW reference (docs/references.md#adamw). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, initBackend } from '../../src/index.js';
import { printObserved, record, runTrajectory, uniquePrefix, type TrajectoryOptions } from './harness.js';
import { RefAdamW, type RefAdamOptions } from './reference.js';

const TOL = 2e-5;

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('adamw'));

interface Case {
  label: string;
  options: ConstructorParameters<typeof AdamW>[0];
  ref: Partial<RefAdamOptions>;
  trajectory?: TrajectoryOptions;
}

const cases: Case[] = [
  { label: 'defaults', options: {}, ref: {} },
  { label: 'weightDecay 0.1', options: { weightDecay: 0.1 }, ref: { weightDecay: 0.1 } },
  {
    label: 'amsgrad (large then small gradients, so v decreases)',
    options: { amsgrad: true, beta2: 0.9 },
    ref: { amsgrad: true, beta2: 0.9 },
    trajectory: { gradScale: (s) => (s <= 8 ? 3 : 0.2) },
  },
  {
    label: 'tiny gradients (epsilon placement matters)',
    options: { learningRate: 1e-2 },
    ref: { lr: 1e-2 },
    trajectory: { gradScale: () => 2e-8 },
  },
  {
    label: 'custom betas, eps, lr',
    options: { learningRate: 3e-3, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 },
    ref: { lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05 },
  },
];

describe('AdamW trajectory vs torch.optim.AdamW reference (30 steps)', () => {
  for (const c of cases) {
    it(c.label, () => {
      const p = uniquePrefix('adamw');
      const params = [
        { name: `${p}kernel`, shape: [8, 16] },
        { name: `${p}bias`, shape: [10] },
        { name: `${p}bank`, shape: [3, 6, 10] },
      ];
      const opt = new AdamW(c.options);
      const res = runTrajectory(opt, new RefAdamW(c.ref), params, c.trajectory);
      opt.dispose();
      const worst = Math.max(...res.perStep);
      record(`AdamW ${c.label}`, worst);
      expect(res.perStep).toHaveLength(30);
      expect(worst).toBeLessThanOrEqual(TOL);
      // The comparison is meaningful only if the parameters moved far beyond the tolerance.
      for (const moved of Object.values(res.moved)) expect(moved).toBeGreaterThan(100 * TOL);
    });
  }

  it('the reference distinguishes weight decay and amsgrad (the cases above can fail)', () => {
    const p = uniquePrefix('adamwneg');
    const params = [{ name: `${p}kernel`, shape: [8, 16] }];
    const opt = new AdamW({ weightDecay: 0.1 });
    const res = runTrajectory(opt, new RefAdamW({ weightDecay: 0 }), params);
    opt.dispose();
    expect(Math.max(...res.perStep)).toBeGreaterThan(10 * TOL);

    const p2 = uniquePrefix('adamwneg');
    const opt2 = new AdamW({ amsgrad: false, beta2: 0.9 });
    const res2 = runTrajectory(opt2, new RefAdamW({ amsgrad: true, beta2: 0.9 }), [{ name: `${p2}k`, shape: [8, 16] }], {
      gradScale: (s) => (s <= 8 ? 3 : 0.2),
    });
    opt2.dispose();
    expect(Math.max(...res2.perStep)).toBeGreaterThan(10 * TOL);
  });
});
