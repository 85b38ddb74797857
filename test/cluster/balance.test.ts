/** Cost-balanced shares: deterministic, complete, and close to the ideal split. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignShares, shareLoads } from '../../src/cluster/balance.js';

describe('assignShares', () => {
  it('a few long runs and many short ones: the long ones are spread, counts differ, loads match', () => {
    const costs = [10, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const owner = assignShares(costs, 2);
    expect(owner[0]).not.toBe(owner[1]);
    expect(shareLoads(costs, 2)).toEqual([19, 19]);
  });

  it('property: every item has a share in range, the result is deterministic, no share exceeds ideal + largest item', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (costs, n) => {
        const owner = assignShares(costs, n);
        expect(owner.every((s) => Number.isInteger(s) && s >= 0 && s < n)).toBe(true);
        expect(assignShares(costs, n)).toEqual(owner);
        const total = costs.reduce((a, c) => a + c, 0);
        expect(Math.max(...shareLoads(costs, n))).toBeLessThanOrEqual(total / n + Math.max(...costs) + 1e-9);
      }),
    );
  });

  it('a share count that is not a positive integer is refused', () => {
    expect(() => assignShares([1], 0)).toThrow('expected a positive integer');
  });
});
