/** Adam (L2 weight decay) against the float64 torch.optim.Adam reference. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, initBackend } from '../../src/index.js';
import { printObserved, record, runTrajectory, uniquePrefix } from './harness.js';
import { RefAdam, RefAdamW, type RefAdamOptions } from './reference.js';

const TOL = 2e-5;

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('adam'));

const cases: { label: string; options: ConstructorParameters<typeof Adam>[0]; ref: Partial<RefAdamOptions> }[] = [
  { label: 'defaults (eps 1e-8, no decay)', options: {}, ref: {} },
  { label: 'L2 weightDecay 0.1', options: { weightDecay: 0.1 }, ref: { weightDecay: 0.1 } },
  {
    label: 'amsgrad, lr 3e-3, betas (0.8, 0.9)',
    options: { amsgrad: true, learningRate: 3e-3, beta1: 0.8, beta2: 0.9 },
    ref: { amsgrad: true, lr: 3e-3, beta1: 0.8, beta2: 0.9 },
  },
];

describe('Adam trajectory vs torch.optim.Adam reference (30 steps)', () => {
  for (const c of cases) {
    it(c.label, () => {
      const p = uniquePrefix('adam');
      const opt = new Adam(c.options);
      const res = runTrajectory(opt, new RefAdam(c.ref), [
        { name: `${p}w`, shape: [8, 16] },
        { name: `${p}b`, shape: [10] },
      ]);
      opt.dispose();
      const worst = Math.max(...res.perStep);
      record(`Adam ${c.label}`, worst);
      expect(worst).toBeLessThanOrEqual(TOL);
      for (const moved of Object.values(res.moved)) expect(moved).toBeGreaterThan(100 * TOL);
    });
  }

  it('L2 decay (Adam) and decoupled decay (AdamW) are distinguished', () => {
    const p = uniquePrefix('adamneg');
    const opt = new Adam({ weightDecay: 0.5, learningRate: 1e-2 });
    const res = runTrajectory(opt, new RefAdamW({ weightDecay: 0.5, lr: 1e-2 }), [{ name: `${p}w`, shape: [8, 16] }]);
    opt.dispose();
    expect(Math.max(...res.perStep)).toBeGreaterThan(10 * TOL);
  });
});
