import { describe, expect, it } from 'vitest';
import { labels, loadMnist, mnistClassCounts, MNIST_CLASSES } from '../../src/data/index.js';

/** Element-wise equality of typed arrays (vitest's toEqual is far too slow on millions of elements). */
function same(a: ArrayLike<number> & ArrayBufferView, b: ArrayLike<number> & ArrayBufferView): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return ba.equals(bb);
}

function rowKey(x: Float32Array, i: number): string {
  // Images are distinct in practice; a cheap fingerprint of a row is enough to test disjointness.
  let h = 0;
  for (let j = 0; j < 784; j++) h = (Math.imul(h, 31) + Math.round(x[i * 784 + j]! * 1000)) | 0;
  return String(h);
}

describe('loadMnist', () => {
  const ds = loadMnist({ seed: 1 });

  it('has about 10,000 digits, 784 inputs, 10 one-hot classes', () => {
    expect(ds.kind).toBe('classification');
    expect(ds.inputDim).toBe(784);
    expect(ds.outputDim).toBe(10);
    expect(ds.train.n + ds.test.n).toBe(mnistClassCounts().reduce((a, b) => a + b));
    expect(ds.train.n + ds.test.n).toBeGreaterThanOrEqual(9900);
    expect(ds.train.n + ds.test.n).toBeLessThanOrEqual(10100);
    expect(ds.test.n / (ds.train.n + ds.test.n)).toBeCloseTo(0.2, 2);
    for (const s of [ds.train, ds.test]) {
      expect(s.x.length).toBe(s.n * 784);
      expect(s.y.length).toBe(s.n * 10);
      let min = Infinity;
      let max = -Infinity;
      for (const v of s.x) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(1);
      let badRows = 0;
      for (let i = 0; i < s.n; i++) {
        let sum = 0;
        let ones = 0;
        let zeros = 0;
        for (let j = 0; j < 10; j++) {
          const v = s.y[i * 10 + j]!;
          sum += v;
          if (v === 1) ones++;
          else if (v === 0) zeros++;
        }
        if (sum !== 1 || ones !== 1 || zeros !== 9) badRows++;
      }
      expect(badRows).toBe(0);
    }
  });

  it('is stratified: every class is split testFraction : 1 - testFraction', () => {
    const counts = mnistClassCounts();
    const tr = new Array(MNIST_CLASSES).fill(0);
    const te = new Array(MNIST_CLASSES).fill(0);
    for (const c of labels(ds.train, 10)) tr[c]++;
    for (const c of labels(ds.test, 10)) te[c]++;
    for (let d = 0; d < 10; d++) {
      expect(te[d]).toBe(Math.round(0.2 * counts[d]!));
      expect(tr[d] + te[d]).toBe(counts[d]);
    }
    // Rows are not sorted by class.
    expect(new Set(labels(ds.train, 10).subarray(0, 50)).size).toBeGreaterThan(5);
  });

  it('train and test are disjoint', () => {
    const trainKeys = new Set<string>();
    for (let i = 0; i < ds.train.n; i++) trainKeys.add(rowKey(ds.train.x, i));
    let shared = 0;
    for (let i = 0; i < ds.test.n; i++) if (trainKeys.has(rowKey(ds.test.x, i))) shared++;
    // No image of the package appears on both sides (a leaky split would share hundreds).
    expect(shared).toBe(0);
  });

  it('is fixed across run seeds (split depends only on the split seed)', () => {
    const other = loadMnist({ seed: 987654 });
    expect(same(other.train.x, ds.train.x)).toBe(true);
    expect(same(other.train.y, ds.train.y)).toBe(true);
    expect(same(other.test.x, ds.test.x)).toBe(true);
    expect(same(other.test.y, ds.test.y)).toBe(true);
    // ...and returns fresh arrays, so callers cannot corrupt each other's data.
    expect(other.train.x === ds.train.x).toBe(false);
  });

  it('limit caps examples per class; limited splits are subsets of the full ones', () => {
    const small = loadMnist({ seed: 5, limit: 50 });
    expect(small.train.n).toBe(400);
    expect(small.test.n).toBe(100);
    for (const c of [0, 3, 9]) {
      expect([...labels(small.test, 10)].filter((l) => l === c).length).toBe(10);
    }
    const fullTest = new Set<string>();
    for (let i = 0; i < ds.test.n; i++) fullTest.add(rowKey(ds.test.x, i));
    for (let i = 0; i < small.test.n; i++) expect(fullTest.has(rowKey(small.test.x, i))).toBe(true);
    const fullTrain = new Set<string>();
    for (let i = 0; i < ds.train.n; i++) fullTrain.add(rowKey(ds.train.x, i));
    for (let i = 0; i < small.train.n; i++) expect(fullTrain.has(rowKey(small.train.x, i))).toBe(true);
  });

  it('honours testFraction', () => {
    const s = loadMnist({ seed: 1, testFraction: 0.5, limit: 20 });
    expect(s.train.n).toBe(100);
    expect(s.test.n).toBe(100);
  });

  it('rejects bad arguments naming the parameter', () => {
    expect(() => loadMnist({ seed: 1.5 })).toThrow(/loadMnist: seed must be an integer, got 1.5/);
    expect(() => loadMnist({ seed: 1, testFraction: 1 })).toThrow(/testFraction must be .* got 1/);
    expect(() => loadMnist({ seed: 1, testFraction: 0 })).toThrow(/testFraction/);
    expect(() => loadMnist({ seed: 1, limit: 0 })).toThrow(/limit must be a positive integer, got 0/);
    expect(() => loadMnist({ seed: 1, limit: 2 })).toThrow(/limit = 2 leaves digit 0/);
    expect(() => loadMnist({ seed: 1, limt: 3 } as never)).toThrow(/unknown option "limt"/);
  });
});
