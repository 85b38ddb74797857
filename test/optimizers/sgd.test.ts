/** SGD against the float64 torch.optim.SGD reference (dampening 0, heavy-ball or Nesterov). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SGD, initBackend } from '../../src/index.js';
import { printObserved, record, runTrajectory, uniquePrefix } from './harness.js';
import { RefSGD, type RefSgdOptions } from './reference.js';

const TOL = 2e-5;

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('sgd'));

const cases: { label: string; options: ConstructorParameters<typeof SGD>[0]; ref: RefSgdOptions }[] = [
  { label: 'defaults (lr 1e-2, momentum 0.9, heavy-ball)', options: {}, ref: { lr: 1e-2, momentum: 0.9, nesterov: false, weightDecay: 0 } },
  {
    label: 'nesterov',
    options: { nesterov: true },
    ref: { lr: 1e-2, momentum: 0.9, nesterov: true, weightDecay: 0 },
  },
  {
    label: 'nesterov off, momentum 0.5, L2 weightDecay 0.1',
    options: { nesterov: false, momentum: 0.5, weightDecay: 0.1 },
    ref: { lr: 1e-2, momentum: 0.5, nesterov: false, weightDecay: 0.1 },
  },
  {
    label: 'nesterov, L2 weightDecay 0.1',
    options: { nesterov: true, weightDecay: 0.1, learningRate: 5e-3 },
    ref: { lr: 5e-3, momentum: 0.9, nesterov: true, weightDecay: 0.1 },
  },
  { label: 'plain SGD (momentum 0)', options: { momentum: 0 }, ref: { lr: 1e-2, momentum: 0, nesterov: false, weightDecay: 0 } },
];

describe('SGD trajectory vs torch.optim.SGD reference (30 steps)', () => {
  for (const c of cases) {
    it(c.label, () => {
      const p = uniquePrefix('sgd');
      const opt = new SGD(c.options);
      const res = runTrajectory(opt, new RefSGD(c.ref), [
        { name: `${p}w`, shape: [8, 16] },
        { name: `${p}b`, shape: [10] },
      ]);
      opt.dispose();
      const worst = Math.max(...res.perStep);
      record(`SGD ${c.label}`, worst);
      expect(worst).toBeLessThanOrEqual(TOL);
      for (const moved of Object.values(res.moved)) expect(moved).toBeGreaterThan(100 * TOL);
    });
  }

  it('nesterov and heavy-ball are distinguished', () => {
    const p = uniquePrefix('sgdneg');
    const opt = new SGD({ nesterov: true });
    const res = runTrajectory(opt, new RefSGD({ lr: 1e-2, momentum: 0.9, nesterov: false, weightDecay: 0 }), [
      { name: `${p}w`, shape: [8, 16] },
    ]);
    opt.dispose();
    expect(Math.max(...res.perStep)).toBeGreaterThan(100 * TOL);
  });
});
