import { describe, expect, it } from 'vitest';
import { batchIndices, gatherRows, labels } from '../../src/data/index.js';
import { Rng } from '../../src/data/rng.js';

describe('batchIndices', () => {
  it('covers every index exactly once per epoch, with a fresh permutation each epoch', () => {
    const n = 60;
    const bs = 12;
    const next = batchIndices(n, bs, new Rng(7).fork('batches'));
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const seen: number[] = [];
      for (let b = 0; b < n / bs; b++) {
        const batch = next();
        expect(batch).toBeInstanceOf(Int32Array);
        expect(batch.length).toBe(bs);
        seen.push(...batch);
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      epochs.push(seen);
    }
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(epochs[2]).not.toEqual(epochs[1]);
  });

  it('drops the last partial batch and never repeats an index within an epoch', () => {
    const n = 10;
    const next = batchIndices(n, 4, new Rng(1));
    for (let e = 0; e < 5; e++) {
      const a = next();
      const b = next();
      const set = new Set([...a, ...b]);
      expect(set.size).toBe(8); // 2 full batches per epoch, 2 indices unseen, no duplicates
      for (const i of set) expect(i >= 0 && i < n).toBe(true);
    }
  });

  it('is deterministic in the generator seed', () => {
    const a = batchIndices(100, 10, new Rng(3));
    const b = batchIndices(100, 10, new Rng(3));
    const c = batchIndices(100, 10, new Rng(4));
    const sa = Array.from({ length: 25 }, () => [...a()]);
    const sb = Array.from({ length: 25 }, () => [...b()]);
    const sc = Array.from({ length: 25 }, () => [...c()]);
    expect(sb).toEqual(sa);
    expect(sc).not.toEqual(sa);
  });

  it('rejects bad arguments naming the parameter', () => {
    expect(() => batchIndices(0, 1, new Rng(1))).toThrow(/n must be a positive integer, got 0/);
    expect(() => batchIndices(10, 2.5, new Rng(1))).toThrow(/batchSize must be a positive integer, got 2.5/);
    expect(() => batchIndices(10, 11, new Rng(1))).toThrow(/batchSize must be ≤ n = 10.*got 11/);
  });
});

describe('gatherRows', () => {
  const src = Float32Array.from({ length: 12 }, (_, i) => i); // 4 rows × 3
  it('copies the requested rows in order, into a new or given buffer', () => {
    const idx = Int32Array.from([2, 0, 2]);
    expect([...gatherRows(src, 3, idx)]).toEqual([6, 7, 8, 0, 1, 2, 6, 7, 8]);
    const out = new Float32Array(9);
    expect(gatherRows(src, 3, idx, out)).toBe(out);
    expect([...out]).toEqual([6, 7, 8, 0, 1, 2, 6, 7, 8]);
  });
  it('rejects bad arguments', () => {
    expect(() => gatherRows(src, 0, Int32Array.from([0]))).toThrow(/width must be a positive integer, got 0/);
    expect(() => gatherRows(src, 5, Int32Array.from([0]))).toThrow(/not a multiple of width/);
    expect(() => gatherRows(src, 3, Int32Array.from([4]))).toThrow(/idx\[0\] = 4 is out of range 0..3/);
    expect(() => gatherRows(src, 3, Int32Array.from([1]), new Float32Array(2))).toThrow(/out.length must be/);
  });
});

describe('labels', () => {
  it('returns the argmax of each row', () => {
    const y = Float32Array.from([0, 1, 0, 1, 0, 0, 0, 0, 1, 0.2, 0.5, 0.3]);
    expect([...labels({ x: new Float32Array(0), y, n: 4 }, 3)]).toEqual([1, 0, 2, 1]);
  });
  it('checks the shape', () => {
    expect(() => labels({ x: new Float32Array(0), y: new Float32Array(5), n: 2 }, 3)).toThrow(/y.length \(5\)/);
    expect(() => labels({ x: new Float32Array(0), y: new Float32Array(5), n: 2 }, 0)).toThrow(/outputDim/);
  });
});
