import { describe, expect, it } from 'vitest';
import { teacherStudent } from '../../src/data/index.js';

/** Element-wise equality of typed arrays (vitest's toEqual is far too slow on millions of elements). */
function same(a: ArrayLike<number> & ArrayBufferView, b: ArrayLike<number> & ArrayBufferView): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return ba.equals(bb);
}

describe('teacherStudent', () => {
  it('has the declared shapes and defaults', () => {
    const ds = teacherStudent({ seed: 1 });
    expect(ds.kind).toBe('regression');
    expect([ds.inputDim, ds.outputDim, ds.train.n, ds.test.n]).toEqual([16, 4, 4096, 1024]);
    const small = teacherStudent({ seed: 1, inputDim: 5, hidden: 7, outputDim: 3, nTrain: 64, nTest: 32 });
    expect(small.train.x.length).toBe(64 * 5);
    expect(small.train.y.length).toBe(64 * 3);
    expect(small.test.x.length).toBe(32 * 5);
    expect(small.test.y.length).toBe(32 * 3);
    for (const v of small.train.y) expect(Number.isFinite(v)).toBe(true);
  });

  it('same seed gives identical arrays, a different seed different ones', () => {
    const o = { inputDim: 8, nTrain: 256, nTest: 64 };
    const a = teacherStudent({ seed: 42, ...o });
    const b = teacherStudent({ seed: 42, ...o });
    const c = teacherStudent({ seed: 43, ...o });
    expect(same(b.train.x, a.train.x)).toBe(true);
    expect(same(b.train.y, a.train.y)).toBe(true);
    expect(same(b.test.y, a.test.y)).toBe(true);
    expect(same(c.train.x, a.train.x)).toBe(false);
    expect(same(c.train.y, a.train.y)).toBe(false);
    // Train and test inputs are independent draws.
    expect(same(a.test.x, a.train.x.subarray(0, a.test.x.length))).toBe(false);
  });

  it('y is a deterministic function of x (same teacher for train and test), up to the noise', () => {
    const ds = teacherStudent({ seed: 9, nTrain: 2000, nTest: 10, noise: 0 });
    let v = 0;
    for (const y of ds.train.y) v += y * y;
    v /= ds.train.y.length;
    expect(v).toBeGreaterThan(0.15); // ≈ E tanh(z)^2 ≈ 0.39 per output
    expect(v).toBeLessThan(0.8);
    const noisy = teacherStudent({ seed: 9, nTrain: 2000, nTest: 10, noise: 0.1 });
    expect(same(noisy.train.x, ds.train.x)).toBe(true);
    let d = 0;
    for (let i = 0; i < ds.train.y.length; i++) d += (noisy.train.y[i]! - ds.train.y[i]!) ** 2;
    expect(Math.sqrt(d / ds.train.y.length)).toBeCloseTo(0.1, 1);
  });

  it('rejects bad arguments naming the parameter', () => {
    expect(() => teacherStudent({ seed: 1, nTrain: 0 })).toThrow(/teacherStudent: nTrain must be a positive integer, got 0/);
    expect(() => teacherStudent({ seed: 1, hidden: -3 })).toThrow(/hidden must be a positive integer, got -3/);
    expect(() => teacherStudent({ seed: 1, inputDim: 2.5 })).toThrow(/inputDim .* got 2.5/);
    expect(() => teacherStudent({ seed: 1, noise: -0.1 })).toThrow(/noise must be .* got -0.1/);
    expect(() => teacherStudent({ seed: 1, noise: NaN })).toThrow(/noise .* got NaN/);
    expect(() => teacherStudent({ seed: 'x' } as never)).toThrow(/seed must be an integer, got "x"/);
    expect(() => teacherStudent({ seed: 1, nTrian: 5 } as never)).toThrow(/unknown option "nTrian"/);
  });
});
