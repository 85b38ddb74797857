/**
 * Checks of the float64 reference itself against closed forms, so that the trajectory tests
 * compare with something known to be right (no tfjs here).
 */
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from './harness.js';
import { KELLER_ABC, Mat, RefAdam, RefAdamW, RefMuon, RefSGD, Rng, newtonSchulz, singularValues, symmetricEigenvalues } from './reference.js';

describe('reference helpers', () => {
  it('Jacobi eigenvalues: closed forms and invariants', () => {
    expect(symmetricEigenvalues(new Mat(2, 2, Float64Array.from([2, 1, 1, 2])))).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
    const rng = new Rng(1);
    const a = new Mat(7, 7, rng.normals(49));
    const s = a.combine(1, a.t(), 1); // symmetric
    const eig = symmetricEigenvalues(s);
    let trace = 0;
    for (let i = 0; i < 7; i++) trace += s.get(i, i);
    expect(eig.reduce((x, y) => x + y, 0)).toBeCloseTo(trace, 10);
    expect(eig.reduce((x, y) => x + y * y, 0)).toBeCloseTo(s.frobenius() ** 2, 9);
  });

  it('singular values of a matrix with known SVD', () => {
    // Rows of a permutation matrix scaled by 1..4: singular values are 1, 2, 3, 4.
    const m = new Mat(4, 6);
    [3, 0, 5, 1].forEach((col, i) => m.set(i, col, i + 1));
    const sv = singularValues(m);
    expect(maxAbsDiff(sv, [1, 2, 3, 4])).toBeLessThan(1e-12);
    expect(maxAbsDiff(singularValues(m.t()), [1, 2, 3, 4])).toBeLessThan(1e-12);
  });

  it('Newton–Schulz maps equal singular values through the scalar quintic', () => {
    const m = new Mat(4, 6);
    [3, 0, 5, 1].forEach((col, i) => m.set(i, col, 2.5));
    let s = 2.5 / (Math.sqrt(4 * 2.5 * 2.5) + 1e-7);
    const [a, b, c] = KELLER_ABC;
    for (let i = 0; i < 5; i++) s = a * s + b * s ** 3 + c * s ** 5;
    const x = newtonSchulz(m);
    expect(maxAbsDiff(x.data, m.scale(s / 2.5).data)).toBeLessThan(1e-12);
    expect(maxAbsDiff(newtonSchulz(m.t()).data, x.t().data)).toBeLessThan(1e-12);
  });
});

describe('reference optimizers, first step in closed form', () => {
  const g = Float64Array.from([0.5, -2, 3e-9, 0]);
  const theta0 = Float64Array.from([1, -1, 0.25, 2]);

  it('AdamW: θ(1 − lr·wd) − lr·g/(|g| + eps)', () => {
    const theta = Float64Array.from(theta0);
    new RefAdamW({ lr: 0.1, weightDecay: 0.2, eps: 1e-8 }).step('p', [4], theta, g);
    const expected = theta0.map((t, i) => t * (1 - 0.02) - (0.1 * g[i]!) / (Math.abs(g[i]!) + 1e-8));
    expect(maxAbsDiff(theta, expected)).toBeLessThan(1e-12);
  });

  it('Adam (L2): g ← g + wd·θ, then −lr·g/(|g| + eps)', () => {
    const theta = Float64Array.from(theta0);
    new RefAdam({ lr: 0.1, weightDecay: 0.2 }).step('p', [4], theta, g);
    const expected = theta0.map((t, i) => {
      const gi = g[i]! + 0.2 * t;
      return t - (0.1 * gi) / (Math.abs(gi) + 1e-8);
    });
    expect(maxAbsDiff(theta, expected)).toBeLessThan(1e-12);
  });

  it('SGD: heavy-ball −lr·g, Nesterov −lr·(1 + μ)·g on step 1; buffer μ·b + g after', () => {
    const a = Float64Array.from(theta0);
    const sgd = new RefSGD({ lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 });
    sgd.step('p', [4], a, g);
    expect(maxAbsDiff(a, theta0.map((t, i) => t - 0.1 * g[i]!))).toBeLessThan(1e-15);
    sgd.step('p', [4], a, g);
    expect(maxAbsDiff(a, theta0.map((t, i) => t - 0.1 * g[i]! - 0.1 * 1.9 * g[i]!))).toBeLessThan(1e-15);
    const b = Float64Array.from(theta0);
    new RefSGD({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0 }).step('p', [4], b, g);
    expect(maxAbsDiff(b, theta0.map((t, i) => t - 0.1 * 1.9 * g[i]!))).toBeLessThan(1e-15);
  });

  it('Muon: tfjs [fan_in, fan_out] kernels get sqrt(max(1, fan_out/fan_in)); match_rms gives 0.2·sqrt(max)', () => {
    // Gradient with 4 equal singular values in a [4, 6] (fan_in 4, fan_out 6) kernel: NS(G) = φ·G/‖row‖.
    const grad = new Mat(4, 6);
    [3, 0, 5, 1].forEach((col, i) => grad.set(i, col, 1));
    // Nesterov on step 1: m = (1−β)·G, u = G + β·(m − G) = (1 − β²)·G; ‖u‖_F = 2·(1 − β²).
    const u = 1 - 0.95 * 0.95;
    let s = u / (2 * u + 1e-7);
    const [a, b, c] = KELLER_ABC;
    for (let i = 0; i < 5; i++) s = a * s + b * s ** 3 + c * s ** 5;
    const direction = grad.scale(s);
    for (const [rule, wide, tall] of [
      ['original', Math.sqrt(6 / 4), 1],
      ['match_rms_adamw', 0.2 * Math.sqrt(6), 0.2 * Math.sqrt(6)],
    ] as const) {
      const lr = 0.05;
      const wd = 0.3;
      const th = new Float64Array(24).fill(1);
      new RefMuon({ lr, weightDecay: wd, lrAdjust: rule }).step('w', [4, 6], th, grad.data);
      const expected = direction.data.map((d) => 1 - lr * wd - lr * wide * d);
      expect(maxAbsDiff(th, expected)).toBeLessThan(1e-12);
      // The same gradient as a [6, 4] kernel (fan_in 6, fan_out 4).
      const tallTheta = new Float64Array(24).fill(1);
      new RefMuon({ lr, weightDecay: wd, lrAdjust: rule }).step('w', [6, 4], tallTheta, grad.t().data);
      const expectedTall = direction.t().data.map((d) => 1 - lr * wd - lr * tall * d);
      expect(maxAbsDiff(tallTheta, expectedTall)).toBeLessThan(1e-12);
    }
  });

  it('Muon: a bias goes to the internal AdamW with Keller’s defaults (lr 3e-4)', () => {
    const theta = Float64Array.from(theta0);
    new RefMuon().step('b', [4], theta, g);
    expect(maxAbsDiff(theta, theta0.map((t, i) => t - (3e-4 * g[i]!) / (Math.abs(g[i]!) + 1e-10)))).toBeLessThan(1e-15);
  });
});
