/** Newton–Schulz properties (docs/references.md#muon): singular values, orientation, per-expert banks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KELLER_NS_COEFFICIENTS, initBackend, tf, zeropowerViaNewtonSchulz, type NewtonSchulzOptions } from '../../src/index.js';
import { SPLIT_BANK_MIN_SIDE } from '../../src/optimizers/newton_schulz.js';
import { maxAbsDiff, printObserved, record } from './harness.js';
import { KELLER_ABC, Mat, Rng, joinMatrices, newtonSchulz, singularValues, sizeOf, splitMatrices } from './reference.js';

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('newton_schulz'));

/** Run the tfjs NS on float64 data (rounded to float32) and return the result as float64. */
function nsTf(data: Float64Array, shape: number[], options?: NewtonSchulzOptions): Float64Array {
  const g = tf.tensor(Float32Array.from(data), shape);
  const out = zeropowerViaNewtonSchulz(g, options);
  expect(out.shape).toEqual(shape);
  const result = Float64Array.from(out.dataSync());
  tf.dispose([g, out]);
  return result;
}

const SHAPES: number[][] = [
  [8, 16],
  [16, 8],
  [12, 12],
  [32, 64],
  [64, 24],
  [1, 10],
  [10, 1],
];

describe('zeropowerViaNewtonSchulz', () => {
  it('uses Keller’s coefficients', () => {
    expect([...KELLER_NS_COEFFICIENTS]).toEqual([...KELLER_ABC]);
  });

  for (const shape of SHAPES) {
    it(`singular values of NS(G) lie in [0.5, 1.5] and match the float64 reference, ${JSON.stringify(shape)}`, () => {
      const rng = new Rng(100 + shape[0]! * 7 + shape[1]!);
      // A spread of input singular values (scaled columns) so the iteration has real work to do.
      const g = rng.normals(sizeOf(shape));
      const [rows, cols] = shape as [number, number];
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) g[i * cols + j] = Math.fround(g[i * cols + j]! * (1 + (3 * j) / cols) * 50);
      const out = nsTf(g, shape);
      const sv = singularValues(new Mat(rows, cols, out));
      const k = Math.min(rows, cols);
      const top = sv.slice(sv.length - k); // the nonzero part of the spectrum
      record(`σ min ${JSON.stringify(shape)}`, top[0]!);
      record(`σ max ${JSON.stringify(shape)}`, top[top.length - 1]!);
      expect(top[0]!).toBeGreaterThanOrEqual(0.5);
      expect(top[top.length - 1]!).toBeLessThanOrEqual(1.5);
      // Elementwise agreement with the float64 reference.
      const ref = newtonSchulz(new Mat(rows, cols, g)).data;
      const err = maxAbsDiff(out, ref);
      record(`NS vs float64 reference ${JSON.stringify(shape)}`, err);
      expect(err).toBeLessThanOrEqual(1e-5);
    });
  }

  it('keeps the singular vectors: NS(G)·Gᵀ is symmetric positive semi-definite (U·S′S·Uᵀ)', () => {
    const rng = new Rng(7);
    const g = new Mat(8, 16, rng.normals(128));
    const x = new Mat(8, 16, nsTf(g.data, [8, 16]));
    const p = x.matmul(g.t());
    expect(maxAbsDiff(p.data, p.t().data)).toBeLessThanOrEqual(1e-4 * p.frobenius());
    const eig = singularValues(p); // of a symmetric PSD matrix, singular values = eigenvalues
    expect(Math.min(...eig)).toBeGreaterThan(0);
    // …while an unrelated orthogonal-ish matrix of the same shape is not aligned with G.
    const other = new Mat(8, 16, nsTf(rng.normals(128), [8, 16])).matmul(g.t());
    expect(maxAbsDiff(other.data, other.t().data)).toBeGreaterThan(0.1);
  });

  it('NS(Gᵀ) = NS(G)ᵀ', () => {
    for (const [r, c] of [
      [8, 16],
      [16, 8],
      [12, 12],
    ] as const) {
      const g = new Mat(r, c, new Rng(r * 31 + c).normals(r * c));
      const a = new Mat(r, c, nsTf(g.data, [r, c]));
      const b = new Mat(c, r, nsTf(g.t().data, [c, r]));
      const err = maxAbsDiff(a.t().data, b.data);
      record(`NS(Gᵀ) vs NS(G)ᵀ [${r},${c}]`, err);
      expect(err).toBeLessThanOrEqual(5e-6);
    }
  });

  // The last two are at or above SPLIT_BANK_MIN_SIDE: on wasm they take the per-matrix path.
  for (const shape of [
    [3, 6, 10],
    [4, 10, 6],
    [3, 32, 48],
    [2, 48, 32],
  ]) {
    it(`a rank-3 bank ${JSON.stringify(shape)} is orthogonalised per matrix (each with its own norm)`, () => {
      const rng = new Rng(sizeOf(shape));
      const data = rng.normals(sizeOf(shape));
      // Very different scales per expert: a bank-wide norm would leave the small ones far from orthogonal.
      const scales = [1, 100, 0.01, 5];
      const per = sizeOf(shape.slice(1));
      for (let i = 0; i < data.length; i++) data[i] = Math.fround(data[i]! * scales[Math.floor(i / per)]!);
      const batched = nsTf(data, shape);
      const mats = splitMatrices(data, shape);
      const single = joinMatrices(mats.map((m) => new Mat(m.rows, m.cols, nsTf(m.data, [m.rows, m.cols]))));
      const err = maxAbsDiff(batched, single);
      record(`bank vs per-matrix ${JSON.stringify(shape)}`, err);
      expect(err).toBeLessThanOrEqual(1e-5);
      for (const m of splitMatrices(batched, shape)) {
        const sv = singularValues(m).slice(-Math.min(m.rows, m.cols));
        expect(sv[0]!).toBeGreaterThanOrEqual(0.5);
        expect(sv[sv.length - 1]!).toBeLessThanOrEqual(1.5);
      }
      const ref = joinMatrices(mats.map((m) => newtonSchulz(m)));
      expect(maxAbsDiff(batched, ref)).toBeLessThanOrEqual(1e-5);
      // On wasm a bank with a Gram side ≥ SPLIT_BANK_MIN_SIDE is the per-matrix iteration, exactly.
      if (tf.getBackend() === 'wasm' && Math.min(shape[1]!, shape[2]!) >= SPLIT_BANK_MIN_SIDE) expect(err).toBe(0);
    });
  }

  it('steps and coefficients options: the cubic iteration converges to an exactly orthogonal factor', () => {
    const g = new Rng(3).normals(8 * 16);
    const out = nsTf(g, [8, 16], { steps: 20, coefficients: [1.5, -0.5, 0] });
    const sv = singularValues(new Mat(8, 16, out));
    for (const s of sv) expect(Math.abs(s - 1)).toBeLessThanOrEqual(1e-3);
    const ref = newtonSchulz(new Mat(8, 16, g), { steps: 20, coefficients: [1.5, -0.5, 0] }).data;
    expect(maxAbsDiff(out, ref)).toBeLessThanOrEqual(1e-5);
    // A different step count gives a different result (the option is honoured).
    const fewer = nsTf(g, [8, 16], { steps: 2, coefficients: [1.5, -0.5, 0] });
    expect(maxAbsDiff(out, fewer)).toBeGreaterThan(1e-2);
  });

  it('per-step coefficient lists are used in order and hold their last entry', () => {
    const g = new Rng(4).normals(6 * 9);
    const schedule = [KELLER_ABC, [2, -1.5, 0.5], [1.5, -0.5, 0]] as const;
    const out = nsTf(g, [6, 9], { steps: 5, coefficients: schedule });
    const ref = newtonSchulz(new Mat(6, 9, g), { steps: 5, coefficients: schedule }).data;
    expect(maxAbsDiff(out, ref)).toBeLessThanOrEqual(1e-5);
    // Order matters: the reversed schedule is a different iteration.
    const reversed = newtonSchulz(new Mat(6, 9, g), { steps: 5, coefficients: [...schedule].reverse() }).data;
    expect(maxAbsDiff(out, reversed)).toBeGreaterThan(1e-3);
  });

  it('rejects a vector', () => {
    const v = tf.zeros([5]);
    expect(() => zeropowerViaNewtonSchulz(v)).toThrow(/matrix/);
    v.dispose();
  });

  it('does not leak tensors', () => {
    const g = tf.randomNormal([3, 6, 10]);
    const before = tf.memory().numTensors;
    const out = zeropowerViaNewtonSchulz(g);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([g, out]);
  });
});
