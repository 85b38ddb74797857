/**
 * Kaplan–Meier and the log-rank test against textbook values: Freireich et al.'s 6-MP leukaemia
 * trial (remission times in weeks, + = censored), as tabulated in Kleinbaum & Klein, "Survival
 * Analysis" (3rd ed.), ch. 2: KM for the 6-MP group, medians 23 and 8 weeks, and the log-rank
 * O₁ = 9, E₁ = 19.25, Var = 6.257, χ² = 16.79 (R `survdiff`: p = 4.2e-5). Plus a small example
 * computed by hand below.
 */
import { describe, expect, it } from 'vitest';
import { kaplanMeier, logRank, survivalAt, type SurvivalObservation } from '../../src/study/survival.js';

const obs = (spec: string): SurvivalObservation[] =>
  spec.split(/\s+/).filter(Boolean).map((t) => ({ time: Number(t.replace('+', '')), event: !t.endsWith('+') }));

const sixMp = obs('6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+');
const placebo = obs('1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23');

describe('kaplanMeier', () => {
  it('reproduces the 6-MP group table: n at risk, events, Ŝ(t), median 23', () => {
    const km = kaplanMeier(sixMp);
    expect(km.n).toBe(21);
    expect(km.events).toBe(9);
    expect(km.steps.map((s) => [s.time, s.atRisk, s.events])).toEqual([
      [6, 21, 3],
      [7, 17, 1],
      [10, 15, 1],
      [13, 12, 1],
      [16, 11, 1],
      [22, 7, 1],
      [23, 6, 1],
    ]);
    const table = [0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378, 0.4482];
    km.steps.forEach((s, i) => expect(s.survival).toBeCloseTo(table[i]!, 4));
    expect(km.median).toBe(23);
    expect(survivalAt(km, 5.9)).toBe(1);
    expect(survivalAt(km, 12)).toBeCloseTo(0.7529, 4);
    expect(survivalAt(km, 100)).toBeCloseTo(0.4482, 4);
  });

  it('placebo group: median 8; no event at all: Ŝ ≡ 1, median not reached', () => {
    const km = kaplanMeier(placebo);
    expect(km.median).toBe(8);
    expect(survivalAt(km, 8)).toBeCloseTo(8 / 21, 12);
    expect(km.steps.at(-1)!.survival).toBe(0);
    const none = kaplanMeier(obs('10+ 10+ 10+'));
    expect(none.steps).toEqual([]);
    expect(none.median).toBeNull();
  });

  it('hand example: Ŝ falls by 1/3 at t=2 then to 0 at t=5 (the only one left at risk)', () => {
    const km = kaplanMeier(obs('2 3+ 5'));
    expect(km.steps).toEqual([
      { time: 2, atRisk: 3, events: 1, survival: expect.closeTo(2 / 3, 15) },
      { time: 5, atRisk: 1, events: 1, survival: 0 },
    ]);
    expect(km.median).toBe(5);
    expect(() => kaplanMeier([{ time: NaN, event: true }])).toThrow(/finite/);
  });
});

describe('logRank', () => {
  it('6-MP vs placebo: O₁ = 9, E₁ = 19.25, V = 6.257, χ² = 16.79, p ≈ 4.2e-5', () => {
    const r = logRank(sixMp, placebo);
    expect(r.observedA).toBe(9);
    expect(r.observedB).toBe(21);
    expect(r.expectedA).toBeCloseTo(19.25, 2);
    expect(r.expectedB).toBeCloseTo(10.75, 2);
    expect(r.variance).toBeCloseTo(6.257, 3);
    expect(r.chiSquare).toBeCloseTo(16.79, 2);
    expect(r.pValue).toBeGreaterThan(4.1e-5);
    expect(r.pValue).toBeLessThan(4.3e-5);
    // Symmetric in the groups.
    const s = logRank(placebo, sixMp);
    expect(s.chiSquare).toBeCloseTo(r.chiSquare, 12);
    expect(s.pValue).toBeCloseTo(r.pValue, 12);
  });

  it('hand example: A = {2, 3+, 5}, B = {1, 1, 4+}', () => {
    // t=1: n=6, n_A=3, d=2 → E += 1,    V += 2·½·½·4/5 = 0.4
    // t=2: n=4, n_A=3, d=1 → E += 0.75, V += 1·¾·¼·3/3 = 0.1875
    // t=5: n=1, n_A=1, d=1 → E += 1,    V += 0 (one at risk)
    // O_A = 2, E_A = 2.75, V = 0.5875, χ² = 0.5625/0.5875 = 0.957447; p = 2(1 − Φ(0.97850)) = 0.3278
    const r = logRank(obs('2 3+ 5'), obs('1 1 4+'));
    expect(r.observedA).toBe(2);
    expect(r.expectedA).toBeCloseTo(2.75, 12);
    expect(r.expectedB).toBeCloseTo(1.25, 12);
    expect(r.variance).toBeCloseTo(0.5875, 12);
    expect(r.chiSquare).toBeCloseTo(0.5625 / 0.5875, 12);
    expect(r.pValue).toBeCloseTo(0.3278, 3);
  });

  it('no events, or identical groups: no evidence (p = 1 or χ² = 0)', () => {
    expect(logRank(obs('10+ 10+'), obs('10+ 10+ 10+'))).toMatchObject({ chiSquare: 0, pValue: 1, expectedA: 0 });
    const same = logRank(obs('3 5 10+'), obs('3 5 10+'));
    expect(same.chiSquare).toBeCloseTo(0, 12);
    expect(same.pValue).toBeCloseTo(1, 6);
    // Every run of a group diverging at step 5 against none: a strong difference.
    const strong = logRank(obs('5 5 5 5 5'), obs('20+ 20+ 20+ 20+ 20+'));
    expect(strong.observedA).toBe(5);
    expect(strong.expectedA).toBeCloseTo(2.5, 12);
    // V = 5·½·½·5/9 = 25/36; χ² = 6.25/(25/36) = 9
    expect(strong.chiSquare).toBeCloseTo(9, 12);
    expect(strong.pValue).toBeCloseTo(0.0027, 4);
  });
});
