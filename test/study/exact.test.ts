/**
 * Small-n tests against brute force: every p-value of the rank-sum test is compared with a full
 * enumeration of the C(m+n, m) ways to split the pooled sample (with and without ties, one- and
 * two-sided); the Hodges–Lehmann interval is checked to be exactly the set of shifts the exact test
 * does not reject; the permutation log-rank against an enumeration of relabellings; the detectable
 * effect against Noether's formula read forwards and against simulated power.
 */
import { describe, expect, it } from 'vitest';
import {
  doubledMidRanks,
  hodgesLehmann,
  logRankPermutation,
  minimumTwoSidedP,
  noetherDetectableEffect,
  rankSumTest,
  schoenfeldDetectableHazard,
  simulatedDetectableShift,
  simulatedPower,
  type Alternative,
} from '../../src/study/exact.js';
import { logRank, type SurvivalObservation } from '../../src/study/survival.js';
import { Rng } from '../../src/data/rng.js';
import { probit } from 'simple-statistics';

/** All index subsets of size k of 0..n−1. */
function* subsets(n: number, k: number, start = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === k) {
    yield [...acc];
    return;
  }
  for (let i = start; i <= n - (k - acc.length); i++) {
    acc.push(i);
    yield* subsets(n, k, i + 1, acc);
    acc.pop();
  }
}

/** U of a vs b by pairs (a > b counts 1, a = b counts ½). */
function pairU(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

/** Rank-sum p by enumerating every split of the pooled sample (the definition of the permutation test). */
function bruteP(a: readonly number[], b: readonly number[], alternative: Alternative): number {
  const pooled = [...a, ...b];
  const u0 = pairU(a, b);
  let lower = 0;
  let upper = 0;
  let total = 0;
  for (const idx of subsets(pooled.length, a.length)) {
    const inA = new Set(idx);
    const u = pairU(
      idx.map((i) => pooled[i]!),
      pooled.filter((_, i) => !inA.has(i)),
    );
    total++;
    if (u <= u0 + 1e-9) lower++;
    if (u >= u0 - 1e-9) upper++;
  }
  if (alternative === 'greater') return upper / total;
  if (alternative === 'less') return lower / total;
  return Math.min(1, (2 * Math.min(lower, upper)) / total);
}

const ALTS: Alternative[] = ['two-sided', 'greater', 'less'];

describe('rankSumTest', () => {
  it('5 vs 5 complete separation: two-sided p = 2/252 ≈ 0.0079, one-sided 1/252', () => {
    const a = [6, 7, 8, 9, 10];
    const b = [1, 2, 3, 4, 5];
    const two = rankSumTest(a, b);
    expect(two.method).toBe('exact');
    expect(two.u).toBe(25);
    expect(two.pValue).toBeCloseTo(2 / 252, 12);
    expect(rankSumTest(a, b, { alternative: 'greater' }).pValue).toBeCloseTo(1 / 252, 12);
    expect(rankSumTest(a, b, { alternative: 'less' }).pValue).toBeCloseTo(1, 12);
    expect(minimumTwoSidedP(5, 5)).toBeCloseTo(2 / 252, 12);
  });

  it('matches brute-force enumeration without ties (exact U distribution)', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 12; trial++) {
      const m = 2 + rng.int(5);
      const n = 2 + rng.int(5);
      const a = Array.from({ length: m }, () => rng.normal() + 0.7);
      const b = Array.from({ length: n }, () => rng.normal());
      for (const alt of ALTS) {
        const t = rankSumTest(a, b, { alternative: alt });
        expect(t.method).toBe('exact');
        expect(t.pValue).toBeCloseTo(bruteP(a, b, alt), 12);
      }
    }
  });

  it('matches brute-force enumeration with ties (exact mid-rank permutation distribution)', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 12; trial++) {
      const m = 2 + rng.int(6);
      const n = 2 + rng.int(6);
      // Small integers: many ties, as spike counts have.
      const a = Array.from({ length: m }, () => rng.int(4));
      const b = Array.from({ length: n }, () => rng.int(3));
      if (new Set([...a, ...b]).size === m + n) continue;
      for (const alt of ALTS) {
        const t = rankSumTest(a, b, { alternative: alt });
        expect(t.method).toBe('exact-midrank');
        expect(t.pValue).toBeCloseTo(bruteP(a, b, alt), 12);
      }
    }
  });

  it('every value tied: p = 1 both ways', () => {
    const t = rankSumTest([0, 0, 0], [0, 0, 0, 0]);
    expect(t.pValue).toBe(1);
    expect(t.probAGreater).toBe(0.5);
  });

  it('past the exact limit, 10⁵ seeded permutations agree with the exact p within Monte-Carlo error, and repeat with the seed', () => {
    const a = [0, 1, 1, 2, 2, 3, 3, 3, 4, 5];
    const b = [0, 0, 0, 1, 1, 1, 2, 2, 3, 0];
    const exact = rankSumTest(a, b);
    const mc = rankSumTest(a, b, { exactLimit: 0, seed: 3 });
    expect(mc.method).toBe('monte-carlo');
    expect(mc.permutations).toBe(100_000);
    const se = Math.sqrt((exact.pValue * (1 - exact.pValue)) / 100_000) * 2;
    expect(Math.abs(mc.pValue - exact.pValue)).toBeLessThan(4 * se + 1e-4);
    expect(rankSumTest(a, b, { exactLimit: 0, seed: 3 }).pValue).toBe(mc.pValue);
  });

  it('doubled mid-ranks share the mean rank of a tie group', () => {
    expect(doubledMidRanks([10, 20, 20, 5])).toEqual([4, 7, 7, 2]);
  });
});

describe('hodgesLehmann', () => {
  it('5 vs 5 at 95 %: k = 3 (P(U ≤ 2) = 4/252), achieved confidence 1 − 8/252', () => {
    const a = [2.1, 3.5, 4.0, 5.2, 6.3];
    const b = [1.0, 1.7, 2.9, 3.1, 3.3];
    const hl = hodgesLehmann(a, b);
    expect(hl.k).toBe(3);
    expect(hl.confidence).toBeCloseTo(1 - 8 / 252, 12);
    const diffs = a.flatMap((x) => b.map((y) => x - y)).sort((x, y) => x - y);
    expect(hl.lo).toBe(diffs[2]);
    expect(hl.hi).toBe(diffs[22]);
    expect(hl.estimate).toBe(diffs[12]);
  });

  it('the interval is the set of shifts the exact two-sided test does not reject', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 8; trial++) {
      const m = 5 + rng.int(8);
      const n = 5 + rng.int(8);
      const a = Array.from({ length: m }, () => rng.normal() * 2 + 1);
      const b = Array.from({ length: n }, () => rng.normal());
      const hl = hodgesLehmann(a, b, 0.95);
      const alpha = 1 - hl.confidence; // the attained level
      const eps = 1e-7;
      const p = (d: number) => rankSumTest(a.map((x) => x - d), b).pValue;
      expect(p(hl.lo + eps)).toBeGreaterThan(alpha + 1e-12);
      expect(p(hl.hi - eps)).toBeGreaterThan(alpha + 1e-12);
      expect(p(hl.lo - eps)).toBeLessThanOrEqual(alpha + 1e-12);
      expect(p(hl.hi + eps)).toBeLessThanOrEqual(alpha + 1e-12);
      expect(hl.confidence).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('too few values for the confidence: an unbounded interval, not a false one', () => {
    const hl = hodgesLehmann([3, 4, 5], [0, 1, 2]);
    expect(hl.lo).toBe(-Infinity);
    expect(hl.hi).toBe(Infinity);
    expect(hl.estimate).toBe(3);
  });
});

describe('logRankPermutation', () => {
  const obs = (spec: string): SurvivalObservation[] =>
    spec.split(/\s+/).filter(Boolean).map((t) => ({ time: Number(t.replace('+', '')), event: !t.endsWith('+') }));

  it('keeps the asymptotic statistics and agrees with an enumeration of every relabelling', () => {
    const a = obs('3 5 5+ 9 12+');
    const b = obs('1 2 2 4 6+ 7');
    const res = logRankPermutation(a, b, { seed: 1 });
    const plain = logRank(a, b);
    expect(res.chiSquare).toBeCloseTo(plain.chiSquare, 12);
    const pooled = [...a, ...b];
    const z = (x: SurvivalObservation[], y: SurvivalObservation[]) => {
      const r = logRank(x, y);
      return r.variance > 0 ? Math.abs(r.observedA - r.expectedA) / Math.sqrt(r.variance) : 0;
    };
    const z0 = z(a, b);
    let extreme = 0;
    let total = 0;
    for (const idx of subsets(pooled.length, a.length)) {
      const s = new Set(idx);
      total++;
      if (z(idx.map((i) => pooled[i]!), pooled.filter((_, i) => !s.has(i))) >= z0 - 1e-9) extreme++;
    }
    const exact = extreme / total;
    expect(Math.abs(res.permutationP - exact)).toBeLessThan(0.006);
  });

  it('Freireich 6-MP vs placebo: far below 0.001, as the χ² p (4.2e-5)', () => {
    const sixMp = obs('6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+');
    const placebo = obs('1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23');
    expect(logRankPermutation(sixMp, placebo, { permutations: 20_000 }).permutationP).toBeLessThan(1e-3);
  });

  it('no events: p = 1', () => {
    expect(logRankPermutation(obs('5+ 5+'), obs('5+ 5+')).permutationP).toBe(1);
  });
});

describe('detectable effect', () => {
  it("inverts Noether's sample-size formula: plugging the effect back gives N", () => {
    for (const [m, n, k] of [
      [20, 20, 7],
      [30, 20, 1],
      [10, 10, 3],
    ] as const) {
      const d = noetherDetectableEffect(m, n, k);
      expect(d.unattainable).toBe(false);
      const c = m / (m + n);
      const z = -probit(0.05 / k / 2) + probit(0.8);
      const N = z ** 2 / (12 * c * (1 - c) * (d.probSuperiority! - 0.5) ** 2);
      expect(N).toBeCloseTo(m + n, 8);
      expect(d.normalShiftSd).toBeCloseTo(Math.SQRT2 * probit(d.probSuperiority!), 12);
    }
  });

  it("inverts Schoenfeld's events formula: d = 4(z + z)²/(ln HR)² at equal groups; 40 failures at 0.05/7 detect HR ≈ 3", () => {
    const h = schoenfeldDetectableHazard(40, 20, 20, 7);
    const z = -probit(0.05 / 7 / 2) + probit(0.8);
    expect((4 * z ** 2) / Math.log(h.hazardRatio!) ** 2).toBeCloseTo(40, 8);
    expect(h.hazardRatio!).toBeGreaterThan(2.9);
    expect(h.hazardRatio!).toBeLessThan(3.2);
    expect(schoenfeldDetectableHazard(0, 20, 20, 7).hazardRatio).toBeNull();
  });

  it('5 vs 5 in a family of 7 can detect nothing (2/252 > 0.05/7); in a family of 6 the level is reachable', () => {
    expect(noetherDetectableEffect(5, 5, 7).unattainable).toBe(true);
    expect(noetherDetectableEffect(5, 5, 7).normalShiftSd).toBeNull();
    expect(simulatedDetectableShift(5, 5, 7)).toBeNull();
    expect(simulatedPower(5, 5, 10, 0.05 / 6, 200)).toBeGreaterThan(0.9);
  });

  it('simulated power of the exact test at the simulated detectable shift is ≈ 0.8, and Noether is close at n = 20', () => {
    const shift = simulatedDetectableShift(20, 20, 7, { sims: 2000, seed: 1 })!;
    expect(simulatedPower(20, 20, shift, 0.05 / 7, 4000, 99)).toBeGreaterThan(0.75);
    expect(simulatedPower(20, 20, shift, 0.05 / 7, 4000, 99)).toBeLessThan(0.85);
    const noether = noetherDetectableEffect(20, 20, 7).normalShiftSd!;
    expect(Math.abs(noether - shift) / shift).toBeLessThan(0.2);
  });
});
