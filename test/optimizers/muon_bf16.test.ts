/**
 * Newton–Schulz in bf16 (Keller's `G.bfloat16()` path, docs/references.md#muon and #number-formats) and Muon with
 * `nsPrecision: 'bf16'`. torch is not available here, so the "reference Muon in bf16" is the
 * float64 reference with every bf16 rounding of Keller's code applied (reference.ts,
 * newtonSchulzBf16): the bf16 run must track it more closely than the fp32 run does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Muon, MuonCubic, NorMuon, initBackend, tf, zeropowerViaNewtonSchulz } from '../../src/index.js';
import { bf16ByBits } from '../precision/reference.js';
import { maxAbsDiff, printObserved, record, runTrajectory, uniquePrefix } from './harness.js';
import { Mat, RefMuon, Rng, newtonSchulz, singularValues, sizeOf } from './reference.js';

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('muon_bf16'));

function ns(data: Float64Array, shape: number[], precision: 'fp32' | 'bf16'): Float64Array {
  const values = tf.tidy(() => zeropowerViaNewtonSchulz(tf.tensor(Float32Array.from(data), shape), { precision }).dataSync() as Float32Array);
  return Float64Array.from(values);
}

/** Columns scaled 1…4× so the spectrum is spread and the iteration has work to do. */
function spreadMatrix(shape: [number, number], seed: number): Float64Array {
  const [rows, cols] = shape;
  const g = new Rng(seed).normals(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) g[i * cols + j] = Math.fround(g[i * cols + j]! * (1 + (3 * j) / cols));
  return g;
}

const SHAPES: [number, number][] = [
  [8, 16],
  [16, 8],
  [32, 64],
  [64, 24],
  [12, 12],
];

describe('zeropowerViaNewtonSchulz with precision bf16', () => {
  for (const shape of SHAPES) {
    it(`stays in the singular-value band [0.5, 1.5], holds bf16 values and differs from fp32 NS, ${JSON.stringify(shape)}`, () => {
      const g = spreadMatrix(shape, shape[0] * 100 + shape[1]);
      const low = ns(g, shape, 'bf16');
      const sv = singularValues(new Mat(shape[0], shape[1], low));
      const top = sv.slice(sv.length - Math.min(...shape));
      record(`bf16 σ range ${JSON.stringify(shape)}`, top[top.length - 1]! - top[0]!);
      expect(top[0]!).toBeGreaterThanOrEqual(0.5);
      expect(top[top.length - 1]!).toBeLessThanOrEqual(1.5);
      for (const v of low) expect(bf16ByBits(v)).toBe(v);
      const diff = maxAbsDiff(low, ns(g, shape, 'fp32'));
      record(`bf16 − fp32 NS ${JSON.stringify(shape)}`, diff);
      expect(diff).toBeGreaterThan(1e-3);
    });

    it(`matches the bf16-emulating float64 reference far better than fp32 NS does, ${JSON.stringify(shape)}`, () => {
      const g = spreadMatrix(shape, shape[0] * 31 + shape[1]);
      const ref = newtonSchulz(new Mat(shape[0], shape[1], g), { precision: 'bf16' }).data;
      const errLow = maxAbsDiff(ns(g, shape, 'bf16'), ref);
      const errFp32 = maxAbsDiff(ns(g, shape, 'fp32'), ref);
      record(`NS bf16 vs ref bf16 ${JSON.stringify(shape)}`, errLow);
      record(`NS fp32 vs ref bf16 ${JSON.stringify(shape)}`, errFp32);
      // Accumulation order (wasm/cpu float32 vs float64) can flip an occasional bf16 rounding;
      // the fp32 iteration misses every rounding.
      expect(errLow).toBeLessThan(errFp32 / 10);
    });
  }

  it('orthogonalises each matrix of an expert bank on its own, as the bf16 reference does', () => {
    const shape = [3, 8, 16];
    const g = new Rng(5).normals(sizeOf(shape));
    const out = ns(g, shape, 'bf16');
    for (let e = 0; e < 3; e++) {
      const slice = (a: Float64Array) => a.slice(e * 128, (e + 1) * 128);
      const ref = newtonSchulz(new Mat(8, 16, slice(g)), { precision: 'bf16' }).data;
      expect(maxAbsDiff(slice(out), ref)).toBeLessThan(0.02);
    }
  });

  it('does not leak tensors', () => {
    const g = tf.randomNormal([16, 8]);
    const before = tf.memory().numTensors;
    zeropowerViaNewtonSchulz(g, { precision: 'bf16' }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    g.dispose();
  });
});

describe('Muon-family optimizers with nsPrecision bf16', () => {
  it('rejects an unknown precision, naming the option', () => {
    expect(() => new Muon({ nsPrecision: 'fp16' as 'bf16' })).toThrow(/nsPrecision/);
  });

  const variants = [
    { label: 'Muon', make: (o: { nsPrecision: 'fp32' | 'bf16' }) => new Muon(o), ref: {} },
    {
      label: 'NorMuon',
      make: (o: { nsPrecision: 'fp32' | 'bf16' }) => new NorMuon(o),
      ref: { neuronNorm: { beta2: 0.95, eps: 1e-8 } },
    },
    {
      label: 'MuonCubic',
      make: (o: { nsPrecision: 'fp32' | 'bf16' }) => new MuonCubic(o),
      ref: { nsSteps: 12, nsCoefficients: [1.5, -0.5, 0] as const },
    },
  ];
  for (const v of variants) {
    it(`${v.label}: the bf16 run tracks the bf16 reference more closely than the fp32 run (tall and wide kernels)`, () => {
      const errors: Record<string, number> = {};
      for (const precision of ['bf16', 'fp32'] as const) {
        const prefix = uniquePrefix(`${v.label}${precision}`);
        const params = [
          { name: `${prefix}wide`, shape: [8, 16] },
          { name: `${prefix}tall`, shape: [24, 8] },
        ];
        const opt = v.make({ nsPrecision: precision });
        const ref = new RefMuon({ ...v.ref, nsPrecision: 'bf16' });
        const res = runTrajectory(opt, ref, params, { steps: 10 });
        opt.dispose();
        errors[precision] = Math.max(...res.perStep);
        // It trained: the weights moved by many times the tracking error.
        expect(Math.min(...Object.values(res.moved))).toBeGreaterThan(0.05);
      }
      record(`${v.label} bf16 run vs bf16 ref`, errors['bf16']!);
      record(`${v.label} fp32 run vs bf16 ref`, errors['fp32']!);
      expect(errors['bf16']!).toBeLessThan(errors['fp32']! / 2);
    });
  }
});
