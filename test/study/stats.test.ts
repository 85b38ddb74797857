import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';
import {
  bonferroniConfidence,
  bootstrapDiffCI,
  holm,
  logSlope,
  iqr,
  lrSensitivity,
  MANN_WHITNEY_EXACT_LIMIT,
  mannWhitney,
  mannWhitneyNullDistribution,
  median,
  probSuperiority,
  quantile,
  spikesPer1k,
  summarize,
} from '../../src/study/stats.js';

const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('quantiles (Hyndman–Fan type 7, R default)', () => {
  it('matches R quantile(1:10) = 1, 3.25, 5.5, 7.75, 10', () => {
    // h = 9p: p = .25 → h = 2.25 → 3 + .25·(4 − 3) = 3.25; p = .75 → h = 6.75 → 7.75.
    expect(quantile(oneToTen, 0)).toBe(1);
    expect(quantile(oneToTen, 0.25)).toBeCloseTo(3.25, 12);
    expect(quantile(oneToTen, 0.5)).toBeCloseTo(5.5, 12);
    expect(quantile(oneToTen, 0.75)).toBeCloseTo(7.75, 12);
    expect(quantile(oneToTen, 1)).toBe(10);
    expect(quantile(oneToTen, 0.1)).toBeCloseTo(1.9, 12); // h = 0.9
  });

  it('does not depend on input order and does not mutate the input', () => {
    const xs = [10, 3, 7, 1, 9, 2, 8, 4, 6, 5];
    const copy = [...xs];
    expect(iqr(xs)).toEqual(iqr(oneToTen));
    expect(xs).toEqual(copy);
  });

  it('iqr of 1..10 is 7.75 − 3.25 = 4.5; of 1..9 (odd n) is 7 − 3 = 4', () => {
    const r = iqr(oneToTen);
    expect(r.q1).toBeCloseTo(3.25, 12);
    expect(r.q3).toBeCloseTo(7.75, 12);
    expect(r.iqr).toBeCloseTo(4.5, 12);
    // 1..9: h = 8·.25 = 2 → x[2] = 3; h = 6 → x[6] = 7.
    expect(iqr([1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual({ q1: 3, q3: 7, iqr: 4 });
  });

  it('median for odd and even n, single values and constants', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(iqr([7])).toEqual({ q1: 7, q3: 7, iqr: 0 });
    expect(iqr([0.1, 0.1, 0.1])).toEqual({ q1: 0.1, q3: 0.1, iqr: 0 });
  });

  it('summarize', () => {
    const s = summarize([10, 3, 7, 1, 9, 2, 8, 4, 6, 5]);
    expect(s.n).toBe(10);
    expect(s.median).toBe(5.5);
    expect(s.q1).toBeCloseTo(3.25, 12);
    expect(s.q3).toBeCloseTo(7.75, 12);
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.mean).toBeCloseTo(5.5, 12);
  });

  it('rejects empty and non-finite input', () => {
    expect(() => median([])).toThrow();
    expect(() => summarize([1, Number.NaN])).toThrow();
    expect(() => quantile([1, 2], 1.5)).toThrow();
  });
});

describe('bootstrapDiffCI', () => {
  function normals(seed: number, n: number, mu: number, sd: number): number[] {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => mu + sd * rng.normal());
  }

  it('covers the true difference for well-separated samples and excludes 0', () => {
    const a = normals(1, 20, 10, 1);
    const b = normals(2, 20, 0, 1);
    const ci = bootstrapDiffCI(a, b, { seed: 42 });
    expect(ci.resamples).toBe(10_000);
    expect(ci.estimate).toBeCloseTo(median(a) - median(b), 12);
    expect(ci.lo).toBeLessThanOrEqual(ci.estimate);
    expect(ci.hi).toBeGreaterThanOrEqual(ci.estimate);
    expect(ci.lo).toBeLessThan(10);
    expect(ci.hi).toBeGreaterThan(10);
    expect(ci.lo).toBeGreaterThan(5);
  });

  it('is deterministic for a seed and changes with the seed', () => {
    const a = normals(3, 8, 1, 1);
    const b = normals(4, 8, 0, 1);
    const opts = { seed: 7, resamples: 2000 };
    expect(bootstrapDiffCI(a, b, opts)).toEqual(bootstrapDiffCI(a, b, opts));
    const other = bootstrapDiffCI(a, b, { ...opts, seed: 8 });
    const first = bootstrapDiffCI(a, b, opts);
    expect(other.estimate).toBe(first.estimate);
    expect([other.lo, other.hi]).not.toEqual([first.lo, first.hi]);
  });

  it('n = 1 groups and constant data collapse onto the estimate', () => {
    expect(bootstrapDiffCI([3], [1], { seed: 1, resamples: 100 })).toEqual({ estimate: 2, lo: 2, hi: 2, resamples: 100 });
    expect(bootstrapDiffCI([2, 2, 2], [1, 1], { seed: 1, resamples: 100 })).toEqual({
      estimate: 1,
      lo: 1,
      hi: 1,
      resamples: 100,
    });
  });

  it('with the mean and large samples, agrees with the normal-theory interval', () => {
    // mean(a) − mean(b) has SE = sqrt(1²/200 + 2²/200) ≈ 0.158, so the 95% half-width ≈ 1.96·0.158 ≈ 0.31
    // (the bootstrap uses the plug-in variance, ≈ 0.25% narrower). Allow 10% for sampling noise.
    const a = normals(5, 200, 0, 1);
    const b = normals(6, 200, 0, 2);
    const meanOf = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const ci = bootstrapDiffCI(a, b, { seed: 9, statistic: meanOf });
    const sdOf = (xs: readonly number[]): number => {
      const m = meanOf(xs);
      return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
    };
    const se = Math.sqrt(sdOf(a) ** 2 / a.length + sdOf(b) ** 2 / b.length);
    const half = 1.959964 * se;
    expect((ci.hi - ci.lo) / 2).toBeGreaterThan(0.9 * half);
    expect((ci.hi - ci.lo) / 2).toBeLessThan(1.1 * half);
    expect((ci.lo + ci.hi) / 2).toBeCloseTo(ci.estimate, 1);
  });

  it('a narrower confidence gives a narrower interval', () => {
    const a = normals(10, 15, 1, 1);
    const b = normals(11, 15, 0, 1);
    const wide = bootstrapDiffCI(a, b, { seed: 3, confidence: 0.95 });
    const narrow = bootstrapDiffCI(a, b, { seed: 3, confidence: 0.5 });
    expect(narrow.lo).toBeGreaterThanOrEqual(wide.lo);
    expect(narrow.hi).toBeLessThanOrEqual(wide.hi);
  });

  it('validates options', () => {
    expect(() => bootstrapDiffCI([1], [2], { seed: 1, resamples: 0 })).toThrow();
    expect(() => bootstrapDiffCI([1], [2], { seed: 1, confidence: 1 })).toThrow();
    expect(() => bootstrapDiffCI([], [2], { seed: 1 })).toThrow();
  });
});

describe('mannWhitney', () => {
  it('a = [1,2,3], b = [4,5,6]: U = 0, exact two-sided p = 2/20 = 0.1', () => {
    const r = mannWhitney([1, 2, 3], [4, 5, 6]);
    expect(r).toEqual({ u: 0, probAGreater: 0, pValue: expect.closeTo(0.1, 12), method: 'exact' });
    const rev = mannWhitney([4, 5, 6], [1, 2, 3]);
    expect(rev.u).toBe(9);
    expect(rev.probAGreater).toBe(1);
    expect(rev.pValue).toBeCloseTo(0.1, 12);
  });

  it('a = [1,3,5], b = [2,4,6]: U = 3, p = 2·P(U ≤ 3) = 2·7/20 = 0.7 (R wilcox.test: W = 3, p = 0.7)', () => {
    // U counts for m = n = 3 (coefficients of the Gaussian binomial [6 choose 3]): 1,1,2,3,3,3,3,2,1,1.
    const r = mannWhitney([1, 3, 5], [2, 4, 6]);
    expect(r.u).toBe(3);
    expect(r.probAGreater).toBeCloseTo(1 / 3, 12);
    expect(r.pValue).toBeCloseTo(0.7, 12);
    expect(r.method).toBe('exact');
  });

  it('null distribution for m = n = 4 has the Gaussian-binomial [8 choose 4] counts / 70', () => {
    const counts = [1, 1, 2, 3, 5, 5, 7, 7, 8, 7, 7, 5, 5, 3, 2, 1, 1];
    const d = mannWhitneyNullDistribution(4, 4);
    expect(d.length).toBe(17);
    counts.forEach((c, u) => expect(d[u]).toBeCloseTo(c / 70, 14));
    // Unequal sizes: m = 2, n = 3 → [5 choose 2]_q = 1,1,2,2,2,1,1 over 10.
    const d23 = mannWhitneyNullDistribution(2, 3);
    [1, 1, 2, 2, 2, 1, 1].forEach((c, u) => expect(d23[u]).toBeCloseTo(c / 10, 14));
  });

  it('null distribution at the exact limit sums to 1 and is symmetric', () => {
    const k = MANN_WHITNEY_EXACT_LIMIT - 1;
    const d = mannWhitneyNullDistribution(k, k);
    expect(d.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 10);
    for (let u = 0; u < d.length; u++) expect(d[u]).toBeCloseTo(d[d.length - 1 - u]!, 14);
  });

  it("R's wilcox.test example (x: 10 values, y: 5): W = 35, one-sided p = 0.1272, two-sided 764/3003", () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const r = mannWhitney(x, y);
    expect(r.u).toBe(35);
    expect(r.method).toBe('exact');
    // Independent check: enumerate all C(15, 5) = 3003 ways to label 5 of the pooled values "y".
    const pooled = [...x, ...y];
    let atLeast = 0;
    let atMost = 0;
    let total = 0;
    const pick = (start: number, chosen: number[]): void => {
      if (chosen.length === 5) {
        const ys = chosen.map((i) => pooled[i]!);
        const xs = pooled.filter((_, i) => !chosen.includes(i));
        let u = 0;
        for (const a of xs) for (const b of ys) if (a > b) u++;
        total++;
        if (u >= 35) atLeast++;
        if (u <= 35) atMost++;
        return;
      }
      for (let i = start; i < pooled.length; i++) pick(i + 1, [...chosen, i]);
    };
    pick(0, []);
    expect(total).toBe(3003);
    expect(atLeast).toBe(382); // 382/3003 = 0.12721 (R's documented one-sided p)
    expect(r.pValue).toBeCloseTo((2 * Math.min(atLeast, atMost)) / total, 12);
    expect(r.pValue).toBeCloseTo(764 / 3003, 12);
  });

  it('fully tied samples: U = mn/2, P(A>B) = 0.5, p = 1', () => {
    const r = mannWhitney([5, 5, 5], [5, 5]);
    expect(r).toEqual({ u: 3, probAGreater: 0.5, pValue: 1, method: 'normal' });
  });

  it('ties → normal approximation with tie and continuity correction (hand computation)', () => {
    // a = [1,2,2,3,4], b = [2,3,3,5,6,7]; m = 5, n = 6, mn = 30, N = 11.
    // U_a: 1 → 0; each 2 → ½ (ties with b's 2); 3 → 1 (beats 2) + ½ + ½ (ties with 3, 3) = 2; 4 → 3. U = 6.
    // Tie groups in the pooled sample: value 2 (t = 3), value 3 (t = 3): Σ(t³ − t) = 24 + 24 = 48.
    // σ² = 30/12 · (12 − 48/110) = 28.909091, σ = 5.376717.
    // z = (6 − 15 + ½)/σ = −1.580889; p = 2Φ(−1.580889) = 0.113903 (scipy mannwhitneyu, asymptotic, agrees).
    const r = mannWhitney([1, 2, 2, 3, 4], [2, 3, 3, 5, 6, 7]);
    expect(r.u).toBe(6);
    expect(r.probAGreater).toBeCloseTo(0.2, 12);
    expect(r.method).toBe('normal');
    expect(r.pValue).toBeCloseTo(0.113903, 5);
  });

  it('large samples without ties → normal approximation (hand computation)', () => {
    // a = odd numbers 1..119, b = even numbers 2..120 (m = n = 60 ≥ the exact limit of 50).
    // a = 2k − 1 beats the k − 1 even numbers below it: U = Σ_{k=1..60}(k − 1) = 1770.
    // σ² = mn(N + 1)/12 = 3600·121/12 = 36300; z = (1770 − 1800 + ½)/√36300 = −0.154833;
    // p = 2Φ(−0.154833) = 0.876952.
    const a = Array.from({ length: 60 }, (_, k) => 2 * k + 1);
    const b = Array.from({ length: 60 }, (_, k) => 2 * k + 2);
    const r = mannWhitney(a, b);
    expect(r.u).toBe(1770);
    expect(r.method).toBe('normal');
    expect(r.probAGreater).toBeCloseTo(1770 / 3600, 12);
    expect(r.pValue).toBeCloseTo(0.876952, 5);
  });

  it('exact p just below the limit, in the centre and far in the tail (scipy exact values)', () => {
    // Same odd/even construction with m = n = 49 (still exact): U = 49·48/2 = 1176.
    // scipy.stats.mannwhitneyu(method='exact') gives p = 0.8652103571528106 (normal approx: 0.864597).
    const a = Array.from({ length: 49 }, (_, k) => 2 * k + 1);
    const b = Array.from({ length: 49 }, (_, k) => 2 * k + 2);
    const r = mannWhitney(a, b);
    expect(r.method).toBe('exact');
    expect(r.u).toBe(1176);
    expect(r.pValue).toBeCloseTo(0.8652103571528106, 10);
    // Tail: a = 20.5..48.5 (29 values), b = 0..29 (30 values). a = k + ½ beats min(k, 29) + 1 b's:
    // Σ_{k=20..28}(k + 1) + 20·30 = 225 + 600 = 825 = U. scipy exact p = 1.8142676121702933e-11.
    const tailA = Array.from({ length: 29 }, (_, k) => k + 20.5);
    const tailB = Array.from({ length: 30 }, (_, k) => k);
    const t = mannWhitney(tailA, tailB);
    expect(t.method).toBe('exact');
    expect(t.u).toBe(825);
    expect(t.pValue / 1.8142676121702933e-11).toBeCloseTo(1, 6);
  });

  it('probSuperiority is U/(m·n)', () => {
    expect(probSuperiority([1, 2, 3, 4], [2.5])).toBeCloseTo(0.5, 12);
    expect(probSuperiority([3], [1, 3, 5])).toBeCloseTo(0.5, 12); // 1 win + ½ tie over 3 pairs
  });
});

describe('lrSensitivity (Wortsman et al. 2023)', () => {
  it('no divergence: mean of ℓ(η) − ℓ* over the grid', () => {
    // ℓ₀ = 2.3; losses 1.0, 0.5, 0.7, 2.0 → ℓ* = 0.5 at 3e-3; terms .5, 0, .2, 1.5 → 2.2/4 = 0.55.
    const r = lrSensitivity(
      [
        { lr: 1e-3, finalLoss: 1.0, diverged: false },
        { lr: 3e-3, finalLoss: 0.5, diverged: false },
        { lr: 1e-2, finalLoss: 0.7, diverged: false },
        { lr: 3e-2, finalLoss: 2.0, diverged: false },
      ],
      2.3,
    );
    expect(r.sensitivity).toBeCloseTo(0.55, 12);
    expect(r.best).toBe(0.5);
    expect(r.bestLr).toBe(3e-3);
  });

  it('diverged, NaN and worse-than-init runs all count as ℓ₀', () => {
    // ℓ₀ = 2.3. Clipped losses: 1.0, 0.5, 2.3 (diverged, its recorded 0.1 ignored), 2.3 (NaN),
    // 2.3 (5.0 clipped to ℓ₀), 2.3 (Infinity). ℓ* = 0.5. Terms: .5, 0, 1.8 ×4 → 7.7/6 = 1.283333…
    const r = lrSensitivity(
      [
        { lr: 1e-3, finalLoss: 1.0, diverged: false },
        { lr: 3e-3, finalLoss: 0.5, diverged: false },
        { lr: 1e-2, finalLoss: 0.1, diverged: true },
        { lr: 3e-2, finalLoss: Number.NaN, diverged: false },
        { lr: 1e-1, finalLoss: 5.0, diverged: false },
        { lr: 3e-1, finalLoss: Number.POSITIVE_INFINITY, diverged: true },
      ],
      2.3,
    );
    expect(r.sensitivity).toBeCloseTo(7.7 / 6, 12);
    expect(r.best).toBe(0.5);
    expect(r.bestLr).toBe(3e-3);
  });

  it('a flat curve has sensitivity 0; all diverged gives 0 with best = ℓ₀ and no best LR', () => {
    const flat = lrSensitivity(
      [1e-3, 1e-2, 1e-1].map((lr) => ({ lr, finalLoss: 0.3, diverged: false })),
      2.3,
    );
    expect(flat).toEqual({ sensitivity: 0, best: 0.3, bestLr: 1e-3 });
    const dead = lrSensitivity(
      [1e-3, 1e-2].map((lr) => ({ lr, finalLoss: Number.NaN, diverged: true })),
      2.3,
    );
    expect(dead).toEqual({ sensitivity: 0, best: 2.3, bestLr: null });
  });

  it('the Wortsman grid with one catastrophic LR is bounded by ℓ₀ − ℓ*', () => {
    // 7-point grid; six runs reach 1.0 (ℓ* = 1.0), one diverges: (ℓ₀ − ℓ*)/7 = (2.3 − 1)/7.
    const grid = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1];
    const r = lrSensitivity(
      grid.map((lr) => ({ lr, finalLoss: lr === 3e-1 ? 1e12 : 1.0, diverged: lr === 3e-1 })),
      2.3,
    );
    expect(r.sensitivity).toBeCloseTo(1.3 / 7, 12);
  });

  it('rejects an empty grid and a non-finite ℓ₀', () => {
    expect(() => lrSensitivity([], 2.3)).toThrow();
    expect(() => lrSensitivity([{ lr: 1e-3, finalLoss: 1, diverged: false }], Number.NaN)).toThrow();
  });
});

describe('spikesPer1k', () => {
  it('scales counts to 1000 steps', () => {
    expect(spikesPer1k(3, 1500)).toBe(2);
    expect(spikesPer1k(0, 10)).toBe(0);
    expect(() => spikesPer1k(1, 0)).toThrow();
  });
});

describe('holm (R p.adjust(p, "holm"))', () => {
  it('matches R on sorted, unsorted, tied and capped inputs', () => {
    const close = (a: number[], b: number[]) => a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 12));
    // p.adjust(c(.01,.02,.03,.04,.05), "holm") = .05 .08 .09 .09 .09
    close(holm([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05, 0.08, 0.09, 0.09, 0.09]);
    // p.adjust(c(.04,.001,.03,.5), "holm") = .09 .004 .09 .5
    close(holm([0.04, 0.001, 0.03, 0.5]), [0.09, 0.004, 0.09, 0.5]);
    close(holm([0.3, 0.6]), [0.6, 0.6]);
    close(holm([0.6, 0.7]), [1, 1]);
    close(holm([0.02, 0.02, 0.02]), [0.06, 0.06, 0.06]);
    expect(holm([])).toEqual([]);
    expect(holm([0.2])).toEqual([0.2]);
    expect(() => holm([1.5])).toThrow(/\[0, 1\]/);
  });

  it('is never below the raw p-value and never above Bonferroni', () => {
    const ps = [0.001, 0.2, 0.04, 0.04, 0.9, 0.013];
    const adj = holm(ps);
    adj.forEach((a, i) => {
      expect(a).toBeGreaterThanOrEqual(ps[i]!);
      expect(a).toBeLessThanOrEqual(Math.min(1, ps[i]! * ps.length) + 1e-15);
    });
  });
});

describe('bonferroniConfidence', () => {
  it('is 1 − α/m', () => {
    expect(bonferroniConfidence(1)).toBeCloseTo(0.95, 15);
    expect(bonferroniConfidence(0)).toBeCloseTo(0.95, 15);
    expect(bonferroniConfidence(50)).toBeCloseTo(0.999, 15);
    expect(bonferroniConfidence(10, 0.1)).toBeCloseTo(0.99, 15);
    expect(() => bonferroniConfidence(2.5)).toThrow(/integer/);
  });
});

describe('logSlope', () => {
  it('recovers b of y = a·e^{bx} exactly, and the OLS slope of noisy logs', () => {
    const xs = Array.from({ length: 50 }, (_, i) => 100 + i);
    expect(logSlope(xs, xs.map((x) => 3 * Math.exp(0.01 * x)))!.slope).toBeCloseTo(0.01, 12);
    expect(logSlope(xs, xs.map(() => 7))!.slope).toBe(0);
    // ln y = 0, 1, 0, 1 at x = 0..3: slope = Σ(x − 1.5)(y − .5)/Σ(x − 1.5)² = 1/5 = 0.2
    expect(logSlope([0, 1, 2, 3], [1, Math.E, 1, Math.E])).toEqual({ slope: expect.closeTo(0.2, 12), n: 4 });
  });

  it('skips non-positive and non-finite values; null with fewer than 2 usable points', () => {
    expect(logSlope([1, 2, 3, 4], [Math.E, 0, NaN, Math.E ** 4])).toEqual({ slope: expect.closeTo(1, 12), n: 2 });
    expect(logSlope([1, 2], [1, -1])).toBeNull();
    expect(logSlope([5, 5], [1, 2])).toBeNull();
    expect(() => logSlope([1], [1, 2])).toThrow(/x values/);
  });
});
