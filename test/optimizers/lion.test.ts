/** Lion against the float64 port of google/automl's lion_pytorch.py (Chen et al. 2023). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lion, initBackend } from '../../src/index.js';
import { printObserved, record, runTrajectory, uniquePrefix } from './harness.js';
import { RefLion, type RefLionOptions } from './reference.js';

/**
 * Every step moves each entry by exactly ±lr (plus decay), so one sign that differs from the
 * reference costs 2·lr ≥ 2e-4: far above this tolerance. Observed: ≤ 6.5e-7 (float32 rounding of θ).
 */
const TOL = 2e-6;

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('lion'));

const cases: { label: string; options: ConstructorParameters<typeof Lion>[0]; ref: Partial<RefLionOptions> }[] = [
  { label: 'defaults (lr 1e-4, β 0.9/0.99, wd 0)', options: {}, ref: {} },
  { label: 'lr 1e-3, weightDecay 0.5 (decoupled)', options: { learningRate: 1e-3, weightDecay: 0.5 }, ref: { lr: 1e-3, weightDecay: 0.5 } },
  {
    label: 'β₁ 0.5, β₂ 0.9, lr 3e-4',
    options: { learningRate: 3e-4, beta1: 0.5, beta2: 0.9 },
    ref: { lr: 3e-4, beta1: 0.5, beta2: 0.9 },
  },
];

describe('Lion trajectory vs the official PyTorch code (30 steps)', () => {
  for (const c of cases) {
    it(c.label, () => {
      const p = uniquePrefix('lion');
      const opt = new Lion(c.options);
      const res = runTrajectory(opt, new RefLion(c.ref), [
        { name: `${p}kernel`, shape: [8, 16] },
        { name: `${p}bias`, shape: [10] },
        { name: `${p}bank`, shape: [3, 6, 10] },
      ]);
      opt.dispose();
      const worst = Math.max(...res.perStep);
      record(`Lion ${c.label}`, worst);
      expect(worst).toBeLessThanOrEqual(TOL);
      for (const moved of Object.values(res.moved)) expect(moved).toBeGreaterThan(100 * TOL);
    });
  }

  it('the comparison can fail: swapping β₁ and β₂ (the update must use β₁, the state β₂) is detected', () => {
    const p = uniquePrefix('lionneg');
    const opt = new Lion({ learningRate: 1e-3, beta1: 0.99, beta2: 0.9 });
    const res = runTrajectory(opt, new RefLion({ lr: 1e-3, beta1: 0.9, beta2: 0.99 }), [{ name: `${p}k`, shape: [8, 16] }]);
    opt.dispose();
    expect(Math.max(...res.perStep)).toBeGreaterThan(100 * TOL);
  });
});
