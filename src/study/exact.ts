/**
 * Two-sample tests and effect sizes that stay valid at the study's small sample sizes
 * (docs/references.md#few-seeds): the exact Wilcoxon rank-sum (Mann–Whitney) test, one- or
 * two-sided, with or without ties; the Hodges–Lehmann shift with its distribution-free interval;
 * a permutation log-rank test; and the smallest effect a design can detect. Pure functions on plain
 * arrays, checked in test/study/exact.test.ts against brute-force enumeration.
 *
 * Which null distribution the rank-sum test uses, and when:
 * - no ties, both groups < MANN_WHITNEY_EXACT_LIMIT: the exact distribution of U
 *   (`mannWhitneyNullDistribution` in stats.ts), as R's `wilcox.test(exact = TRUE)`;
 * - ties (or larger groups), while the enumeration costs ≤ MIDRANK_DP_LIMIT operations: the exact
 *   permutation distribution of the mid-rank sum, by dynamic programming over the doubled mid-ranks
 *   (every one of the C(m+n, m) splits counted once; the test is exact conditional on the ties);
 * - beyond that: MONTE_CARLO_PERMUTATIONS seeded random permutations of the mid-ranks, with
 *   p = (1 + #{as extreme})/(1 + B), which is itself a valid p-value (never below its level).
 * At 20 vs 20 with ties the DP costs ≈ 10⁶ additions, so the study's primary cells are always exact.
 *
 * Size: just over 400 lines: the tests, the interval and the power functions share U's exact null
 * distribution and critical values, and splitting them would split one derivation across files.
 */
import { probit } from 'simple-statistics';
import { Rng } from '../data/rng.js';
import { MANN_WHITNEY_EXACT_LIMIT, mannWhitneyNullDistribution } from './stats.js';
import { logRank, type LogRank, type SurvivalObservation } from './survival.js';

/**
 * Which way the alternative points, for sample a against sample b: 'greater' means a tends to be
 * larger than b (P(A > B) > ½).
 */
export type Alternative = 'two-sided' | 'greater' | 'less';

/** Largest (items × group size × rank-sum range) the exact mid-rank enumeration may cost. */
export const MIDRANK_DP_LIMIT = 5e7;

/** Seeded permutations when the exact enumeration is too costly (≥ 10⁵, so p is resolved to ≈ 0.003 relative at p = 0.05). */
export const MONTE_CARLO_PERMUTATIONS = 100_000;

export interface RankSumTest {
  /** U for a: pairs with a_i > b_j, plus half the tied pairs (= mid-rank sum of a − m(m+1)/2). */
  readonly u: number;
  /** U/(m·n), the estimated P(A > B) + ½·P(A = B). */
  readonly probAGreater: number;
  readonly alternative: Alternative;
  readonly pValue: number;
  /** 'exact': U's distribution without ties; 'exact-midrank': exact permutation distribution on mid-ranks; 'monte-carlo': seeded permutations. */
  readonly method: 'exact' | 'exact-midrank' | 'monte-carlo';
  /** Random permutations drawn ('monte-carlo' only). */
  readonly permutations?: number;
}

export interface RankSumOptions {
  readonly alternative?: Alternative;
  /** Seed of the Monte-Carlo permutations (used only past MIDRANK_DP_LIMIT). Default 0. */
  readonly seed?: number;
  readonly permutations?: number;
  /** Cost limit of the exact mid-rank enumeration (default MIDRANK_DP_LIMIT); tests lower it to reach the Monte-Carlo path. */
  readonly exactLimit?: number;
}

function checkSample(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new Error(`${what}: needs at least one value`);
  for (const x of xs) if (!Number.isFinite(x)) throw new Error(`${what}: values must be finite numbers, got ${x}`);
}

/**
 * Doubled mid-ranks (1-based) of the pooled sample, in the pooled order: integers, so sums of them
 * compare exactly. Tied values share the mean of the ranks they occupy.
 */
export function doubledMidRanks(pooled: readonly number[]): number[] {
  const order = pooled.map((_, i) => i).sort((i, j) => pooled[i]! - pooled[j]!);
  const out = new Array<number>(pooled.length);
  for (let s = 0; s < order.length; ) {
    let e = s + 1;
    while (e < order.length && pooled[order[e]!] === pooled[order[s]!]) e++;
    // Ranks s+1..e share (s+1+e)/2; doubled: s+1+e.
    for (let k = s; k < e; k++) out[order[k]!] = s + 1 + e;
    s = e;
  }
  return out;
}

/**
 * P(S ≤ s) and P(S ≥ s) for the sum S of m values drawn without replacement from `scores`
 * (non-negative integers), by counting subsets per (size, sum): counts[j][t] after all items is the
 * number of size-j subsets summing to t. Counts are doubles: they only add, so the relative error
 * stays ~1e-15 even where C(N, m) exceeds 2⁵³.
 */
function subsetSumTails(scores: readonly number[], m: number, s: number): { lower: number; upper: number } {
  const maxSum = [...scores].sort((x, y) => y - x).slice(0, m).reduce((x, y) => x + y, 0);
  const counts: Float64Array[] = Array.from({ length: m + 1 }, () => new Float64Array(maxSum + 1));
  counts[0]![0] = 1;
  let taken = 0;
  for (const r of scores) {
    taken = Math.min(m, taken + 1);
    for (let j = taken; j >= 1; j--) {
      const to = counts[j]!;
      const from = counts[j - 1]!;
      for (let t = maxSum; t >= r; t--) to[t]! += from[t - r]!;
    }
  }
  const dist = counts[m]!;
  let total = 0;
  let lower = 0;
  let upper = 0;
  for (let t = 0; t <= maxSum; t++) {
    const c = dist[t]!;
    total += c;
    if (t <= s) lower += c;
    if (t >= s) upper += c;
  }
  return { lower: lower / total, upper: upper / total };
}

function combine(alternative: Alternative, lower: number, upper: number): number {
  if (alternative === 'greater') return Math.min(1, upper);
  if (alternative === 'less') return Math.min(1, lower);
  // The null distribution is symmetric about its mean (with ties too: the multiset of mid-ranks is
  // symmetric under r ↦ N + 1 − r), so doubling the smaller tail is the two-sided p.
  return Math.min(1, 2 * Math.min(lower, upper));
}

/**
 * Wilcoxon rank-sum / Mann–Whitney test of a against b (see the module comment for the method
 * used). Two-sided by default; 'greater' tests a stochastically larger than b.
 */
export function rankSumTest(a: readonly number[], b: readonly number[], options: RankSumOptions = {}): RankSumTest {
  checkSample(a, 'rankSumTest (a)');
  checkSample(b, 'rankSumTest (b)');
  const alternative = options.alternative ?? 'two-sided';
  const m = a.length;
  const n = b.length;
  const N = m + n;
  const ranks2 = doubledMidRanks([...a, ...b]);
  let w2 = 0; // doubled mid-rank sum of a
  for (let i = 0; i < m; i++) w2 += ranks2[i]!;
  const u = (w2 - m * (m + 1)) / 2;
  const probAGreater = u / (m * n);
  const tied = new Set([...a, ...b]).size < N;

  if (!tied && m < MANN_WHITNEY_EXACT_LIMIT && n < MANN_WHITNEY_EXACT_LIMIT) {
    const dist = mannWhitneyNullDistribution(m, n);
    let lower = 0;
    let upper = 0;
    for (let k = 0; k < dist.length; k++) {
      if (k <= u) lower += dist[k]!;
      if (k >= u) upper += dist[k]!;
    }
    return { u, probAGreater, alternative, pValue: combine(alternative, lower, upper), method: 'exact' };
  }

  const maxSum = [...ranks2].sort((x, y) => y - x).slice(0, m).reduce((x, y) => x + y, 0);
  if (N * m * maxSum <= (options.exactLimit ?? MIDRANK_DP_LIMIT)) {
    const { lower, upper } = subsetSumTails(ranks2, m, w2);
    return { u, probAGreater, alternative, pValue: combine(alternative, lower, upper), method: 'exact-midrank' };
  }

  const permutations = options.permutations ?? MONTE_CARLO_PERMUTATIONS;
  const rng = new Rng(options.seed ?? 0);
  let atMost = 0;
  let atLeast = 0;
  for (let p = 0; p < permutations; p++) {
    const perm = rng.permutation(N);
    let s = 0;
    for (let i = 0; i < m; i++) s += ranks2[perm[i]!]!;
    if (s <= w2) atMost++;
    if (s >= w2) atLeast++;
  }
  const lower = (1 + atMost) / (1 + permutations);
  const upper = (1 + atLeast) / (1 + permutations);
  return { u, probAGreater, alternative, pValue: combine(alternative, lower, upper), method: 'monte-carlo', permutations };
}

/** The smallest two-sided p the exact rank-sum test can return for groups of m and n: 2/C(m+n, m). */
export function minimumTwoSidedP(m: number, n: number): number {
  let c = 1;
  for (let k = 1; k <= Math.min(m, n); k++) c = (c * (m + n - Math.min(m, n) + k)) / k;
  return Math.min(1, 2 / c);
}

// ---------------------------------------------------------------------------------------------
// Hodges–Lehmann shift
// ---------------------------------------------------------------------------------------------

export interface HodgesLehmann {
  /** Median of the m·n differences a_i − b_j: the shift of a relative to b. */
  readonly estimate: number;
  /** Interval ends; ±Infinity when the groups are too small for the requested confidence. */
  readonly lo: number;
  readonly hi: number;
  /** The confidence the interval actually has (exact under continuous distributions): ≥ the requested one. */
  readonly confidence: number;
  /** 1-based order statistic of the sorted differences at the lower end (0: unbounded). */
  readonly k: number;
}

/**
 * Hodges–Lehmann estimate of the shift Δ (a ~ b + Δ) and its distribution-free confidence interval
 * (Hollander & Wolfe, Nonparametric Statistical Methods, ch. 4): with the m·n differences sorted,
 * D(1) ≤ … ≤ D(mn), the interval is [D(k), D(mn + 1 − k)] where k is the largest integer with
 * P(U ≤ k − 1) ≤ α/2 under U's exact null distribution, so its coverage is 1 − 2·P(U ≤ k − 1) ≥ 1 − α
 * for any continuous distribution (it is the set of shifts the exact two-sided test does not reject).
 * With ties the coverage is approximate. Groups of 50 or more use U's normal approximation for k.
 */
export function hodgesLehmann(a: readonly number[], b: readonly number[], confidence = 0.95): HodgesLehmann {
  checkSample(a, 'hodgesLehmann (a)');
  checkSample(b, 'hodgesLehmann (b)');
  if (!(confidence > 0 && confidence < 1)) throw new Error(`hodgesLehmann: confidence must be in (0, 1), got ${confidence}`);
  const m = a.length;
  const n = b.length;
  const mn = m * n;
  const diffs = new Float64Array(mn);
  let i = 0;
  for (const x of a) for (const y of b) diffs[i++] = x - y;
  diffs.sort();
  const mid = (mn - 1) / 2;
  const estimate = (diffs[Math.floor(mid)]! + diffs[Math.ceil(mid)]!) / 2;
  const halfAlpha = (1 - confidence) / 2;
  let k = 0;
  let tail = 0; // P(U ≤ k − 1)
  if (m < MANN_WHITNEY_EXACT_LIMIT && n < MANN_WHITNEY_EXACT_LIMIT) {
    const dist = mannWhitneyNullDistribution(m, n);
    // Raise k while P(U ≤ k) still fits in α/2 (and the interval stays non-empty).
    while (k < Math.floor(mn / 2) && tail + dist[k]! <= halfAlpha + 1e-12) {
      tail += dist[k]!;
      k++;
    }
  } else {
    const z = -probit(halfAlpha);
    k = Math.max(0, Math.floor(mn / 2 - z * Math.sqrt((mn * (m + n + 1)) / 12)));
    tail = halfAlpha;
  }
  if (k === 0) return { estimate, lo: -Infinity, hi: Infinity, confidence: 1, k };
  return { estimate, lo: diffs[k - 1]!, hi: diffs[mn - k]!, confidence: 1 - 2 * tail, k };
}

// ---------------------------------------------------------------------------------------------
// Log-rank by permutation
// ---------------------------------------------------------------------------------------------

export interface PermutationLogRank extends LogRank {
  /** Two-sided permutation p of |O_a − E_a|/√V (Monte-Carlo, seeded). */
  readonly permutationP: number;
  readonly permutations: number;
}

/**
 * The two-group log-rank test with a permutation p-value, valid at any sample size when the groups
 * are exchangeable under H0 — true in the study, where censoring is administrative (every run stops
 * at the same horizon). The χ² approximation of survival.ts's `logRank` needs a few events per
 * group; with 20 runs a side and a handful of failures it can be off, so the verdict uses this one.
 * p = (1 + #{|Z*| ≥ |Z|})/(1 + B) over B seeded relabellings, Z = (O_a − E_a)/√V.
 */
export function logRankPermutation(
  a: readonly SurvivalObservation[],
  b: readonly SurvivalObservation[],
  options: { readonly seed?: number; readonly permutations?: number } = {},
): PermutationLogRank {
  const observed = logRank(a, b);
  const permutations = options.permutations ?? MONTE_CARLO_PERMUTATIONS;
  if (observed.variance === 0) return { ...observed, permutationP: 1, permutations: 0 };
  const pooled = [...a, ...b];
  const N = pooled.length;
  const m = a.length;
  // The event times, totals at risk and events per time do not depend on the labels: compute once.
  const eventTimes = [...new Set(pooled.filter((o) => o.event).map((o) => o.time))].sort((x, y) => x - y);
  const T = eventTimes.length;
  const atRisk = eventTimes.map((t) => pooled.filter((o) => o.time >= t).length);
  const events = eventTimes.map((t) => pooled.filter((o) => o.event && o.time === t).length);
  // For each pooled observation: index of the last event time ≤ its time (it is at risk at event times 0..that), and its own event-time index.
  const lastRisk = new Int32Array(N);
  const ownEvent = new Int32Array(N).fill(-1);
  for (let i = 0; i < N; i++) {
    let j = -1;
    while (j + 1 < T && eventTimes[j + 1]! <= pooled[i]!.time) j++;
    lastRisk[i] = j;
    if (pooled[i]!.event) ownEvent[i] = eventTimes.indexOf(pooled[i]!.time);
  }
  const inA = new Uint8Array(N);
  const riskA = new Float64Array(T + 1);
  const z = (): number => {
    riskA.fill(0);
    let oA = 0;
    for (let i = 0; i < N; i++) {
      if (!inA[i]) continue;
      // At risk at event times 0..lastRisk[i]: a difference array over event-time indices.
      riskA[0]! += 1;
      riskA[lastRisk[i]! + 1]! -= 1;
      if (ownEvent[i]! >= 0) oA++;
    }
    let nA = 0;
    let eA = 0;
    let v = 0;
    for (let j = 0; j < T; j++) {
      nA += riskA[j]!;
      const nj = atRisk[j]!;
      const dj = events[j]!;
      const share = nA / nj;
      eA += dj * share;
      if (nj > 1) v += (dj * share * (1 - share) * (nj - dj)) / (nj - 1);
    }
    return v > 0 ? Math.abs(oA - eA) / Math.sqrt(v) : 0;
  };
  for (let i = 0; i < m; i++) inA[i] = 1;
  const zObs = z();
  const rng = new Rng(options.seed ?? 0);
  let extreme = 0;
  for (let p = 0; p < permutations; p++) {
    const perm = rng.permutation(N);
    inA.fill(0);
    for (let i = 0; i < m; i++) inA[perm[i]!] = 1;
    // A relative tolerance keeps relabellings that reproduce the observed split from being lost to rounding.
    if (z() >= zObs * (1 - 1e-12)) extreme++;
  }
  return { ...observed, permutationP: (1 + extreme) / (1 + permutations), permutations };
}

// ---------------------------------------------------------------------------------------------
// Power and the minimal detectable effect
// ---------------------------------------------------------------------------------------------

export interface DetectableEffect {
  readonly kind: 'shift';
  /** Per-test two-sided level: α divided by the family size (Holm's first, strictest step). */
  readonly level: number;
  /** Smallest P(treatment < baseline) (or its mirror 1 − p′) detectable with the power asked; null when none is. */
  readonly probSuperiority: number | null;
  /** The same as a shift of two normal distributions, in units of their SD: √2·Φ⁻¹(p′); null when none is. */
  readonly normalShiftSd: number | null;
  /** The exact test cannot reach the level at all at these sizes (2/C(m+n, m) > level). */
  readonly unattainable: boolean;
}

/**
 * Noether's (1987, "Sample size determination for some common nonparametric tests", JASA 82)
 * approximation inverted for the effect: a two-sided rank-sum test at level λ with N = m + n and
 * c = m/N has power 1 − β when |p′ − ½| = (z_{1−λ/2} + z_{1−β}) / √(12·c·(1 − c)·N), where
 * p′ = P(X < Y). The level is α/k for a family of k (the first Holm step; later steps are laxer, so
 * this is the conservative reading). Returns null effects when |p′ − ½| would exceed ½, or when the
 * exact test cannot reach the level at all — the normal approximation would hide that at n = 5.
 */
export function noetherDetectableEffect(m: number, n: number, familySize: number, alpha = 0.05, power = 0.8): DetectableEffect {
  for (const [v, w] of [[m, 'm'], [n, 'n'], [familySize, 'familySize']] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`noetherDetectableEffect: ${w} must be a positive integer, got ${v}`);
  }
  if (!(power > 0 && power < 1)) throw new Error(`noetherDetectableEffect: power must be in (0, 1), got ${power}`);
  const level = alpha / familySize;
  const unattainable = minimumTwoSidedP(m, n) > level;
  const N = m + n;
  const c = m / N;
  const delta = (-probit(level / 2) + probit(power)) / Math.sqrt(12 * c * (1 - c) * N);
  if (unattainable || delta >= 0.5) return { kind: 'shift', level, probSuperiority: null, normalShiftSd: null, unattainable };
  const p = 0.5 + delta;
  return { kind: 'shift', level, probSuperiority: p, normalShiftSd: Math.SQRT2 * probit(p), unattainable };
}

export interface DetectableHazard {
  readonly kind: 'hazard';
  readonly level: number;
  /** Failures (events) in both groups together, which the log-rank test's power depends on. */
  readonly events: number;
  /** Smallest hazard ratio (> 1; its inverse likewise) detectable with the power asked; null with no events. */
  readonly hazardRatio: number | null;
}

/**
 * Schoenfeld's approximation for the log-rank test (D. Schoenfeld, "The asymptotic properties of
 * nonparametric tests for comparing survival distributions", Biometrika 68(1), 1981) inverted for
 * the effect: with d events and a share c of the runs in one group, the test at two-sided level λ
 * has power 1 − β when |ln HR| = (z_{1−λ/2} + z_{1−β}) / √(d·c·(1 − c)). λ = α/k as above.
 */
export function schoenfeldDetectableHazard(events: number, m: number, n: number, familySize: number, alpha = 0.05, power = 0.8): DetectableHazard {
  const level = alpha / familySize;
  if (!(events > 0)) return { kind: 'hazard', level, events, hazardRatio: null };
  const c = m / (m + n);
  const lnHr = (-probit(level / 2) + probit(power)) / Math.sqrt(events * c * (1 - c));
  return { kind: 'hazard', level, events, hazardRatio: Math.exp(lnHr) };
}

/** Rejection region of the exact two-sided test at `level`: reject when U ≤ lo or U ≥ hi (lo = −1: never low). */
function exactCriticalValues(m: number, n: number, level: number): { lo: number; hi: number } {
  const dist = mannWhitneyNullDistribution(m, n);
  let lo = -1;
  let tail = 0;
  while (lo + 1 < dist.length && tail + dist[lo + 1]! <= level / 2 + 1e-12) {
    tail += dist[lo + 1]!;
    lo++;
  }
  return { lo, hi: m * n - lo };
}

/**
 * Power of the exact two-sided rank-sum test at `level` against a normal shift of `shiftSd` SDs,
 * estimated from `sims` seeded simulated experiments (standard error ≤ 0.5/√sims).
 */
export function simulatedPower(m: number, n: number, shiftSd: number, level: number, sims = 4000, seed = 0): number {
  const { lo, hi } = exactCriticalValues(m, n, level);
  if (lo < 0) return 0;
  const rng = new Rng(seed);
  const a = new Float64Array(m);
  const b = new Float64Array(n);
  let rejected = 0;
  for (let s = 0; s < sims; s++) {
    for (let i = 0; i < m; i++) a[i] = rng.normal() + shiftSd;
    for (let j = 0; j < n; j++) b[j] = rng.normal();
    let u = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) if (a[i]! > b[j]!) u++;
    if (u <= lo || u >= hi) rejected++;
  }
  return rejected / sims;
}

/**
 * Smallest normal shift (in SDs) the exact test detects with the given power at level α/k, by
 * bisection on `simulatedPower` with common random numbers (the same seed at every shift, so the
 * estimated power rises monotonically with the shift). null when the level is unattainable.
 */
export function simulatedDetectableShift(m: number, n: number, familySize: number, options: { alpha?: number; power?: number; sims?: number; seed?: number } = {}): number | null {
  const level = (options.alpha ?? 0.05) / familySize;
  const power = options.power ?? 0.8;
  if (minimumTwoSidedP(m, n) > level) return null;
  let lo = 0;
  let hi = 1;
  const at = (d: number) => simulatedPower(m, n, d, level, options.sims ?? 4000, options.seed ?? 0);
  while (at(hi) < power) {
    hi *= 2;
    if (hi > 64) return null;
  }
  for (let it = 0; it < 14; it++) {
    const mid = (lo + hi) / 2;
    if (at(mid) >= power) hi = mid;
    else lo = mid;
  }
  return hi;
}
