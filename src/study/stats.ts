/**
 * Small, pure statistics for comparing optimizers across seeds (docs/references.md#fair-comparison: report median and IQR,
 * bootstrap 95% CIs of differences, P(A > B) = Mann–Whitney U/(m·n), and Wortsman et al. 2023 LR
 * sensitivity). No tfjs here: everything works on plain arrays of numbers so it can be unit-tested
 * against textbook values.
 *
 * Quantile definition used throughout (quartiles, IQR, bootstrap percentiles): Hyndman & Fan (1996)
 * type 7, i.e. R's default `quantile()` and NumPy's default `linear` method. For sorted x[0..n-1] and
 * p in [0, 1], h = (n − 1)·p and Q(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). We implement it here
 * rather than use simple-statistics' `quantile`, whose definition is a different (nearest-rank-like)
 * one: for 1..10 it gives Q(0.25) = 3, where R/NumPy give 3.25. The median is the same under every
 * common definition, so `median` is simple-statistics'.
 *
 * Size: a little over 400 lines because the quantile rule above is shared by every estimator here
 * (summaries, bootstrap intervals, LR sensitivity); the exact small-sample tests live in exact.ts.
 */
import { errorFunction, max as ssMax, mean as ssMean, median as ssMedian, min as ssMin } from 'simple-statistics';
import { Rng } from '../data/rng.js';

function assertSample(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new Error(`${what}: needs at least one value`);
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new Error(`${what}: values must be finite numbers, got ${x}`);
  }
}

function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((u, v) => u - v);
}

/** Type-7 quantile of an already ascending-sorted array (see the module comment). */
function quantileSorted7(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const xlo = sorted[lo]!;
  const xhi = sorted[hi]!;
  // Written as a weighted sum rather than xlo + f·(xhi − xlo) so equal neighbours return exactly xlo.
  const f = h - lo;
  return f === 0 ? xlo : (1 - f) * xlo + f * xhi;
}

/** Hyndman–Fan type-7 (linear interpolation, R default) quantile of xs at probability p ∈ [0, 1]. */
export function quantile(xs: readonly number[], p: number): number {
  assertSample(xs, 'quantile');
  if (!(p >= 0 && p <= 1)) throw new Error(`quantile: p must be in [0, 1], got ${p}`);
  return quantileSorted7(sortedCopy(xs), p);
}

/** Sample median (middle value, or mean of the two middle values). */
export function median(xs: readonly number[]): number {
  assertSample(xs, 'median');
  return ssMedian([...xs]);
}

export interface Iqr {
  q1: number;
  q3: number;
  iqr: number;
}

/** First and third quartiles and their difference, type-7 quantiles (R `quantile(x, c(.25,.75))`). */
export function iqr(xs: readonly number[]): Iqr {
  assertSample(xs, 'iqr');
  const s = sortedCopy(xs);
  const q1 = quantileSorted7(s, 0.25);
  const q3 = quantileSorted7(s, 0.75);
  return { q1, q3, iqr: q3 - q1 };
}

export interface Summary {
  n: number;
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  mean: number;
}

/** The per-condition numbers the fair protocol asks for (docs/references.md#fair-comparison) (median and IQR), plus range and mean for context. */
export function summarize(xs: readonly number[]): Summary {
  assertSample(xs, 'summarize');
  const { q1, q3 } = iqr(xs);
  const arr = [...xs];
  return { n: xs.length, median: median(xs), q1, q3, min: ssMin(arr), max: ssMax(arr), mean: ssMean(arr) };
}

// ---------------------------------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------------------------------

export type Statistic = (xs: readonly number[]) => number;

export interface BootstrapOptions {
  /** Statistic of each group; the CI is for statistic(a) − statistic(b). Default: median. */
  statistic?: Statistic;
  /** Number of bootstrap resamples. Default 10 000. */
  resamples?: number;
  /** Two-sided coverage, in (0, 1). Default 0.95. */
  confidence?: number;
  /** Seed for the resampling generator; required so that a report is reproducible. */
  seed: number;
}

export interface BootstrapCI {
  /** statistic(a) − statistic(b) on the observed samples. */
  estimate: number;
  lo: number;
  hi: number;
  resamples: number;
}

/**
 * Percentile bootstrap CI (Efron) of statistic(a) − statistic(b). Each group is resampled with
 * replacement independently at its own size (the seeds of two optimizers are separate samples, not
 * pairs), using the project's seeded `Rng` so the interval is identical for the same seed on any
 * machine. The interval ends are the type-7 quantiles (1 − c)/2 and (1 + c)/2 of the resampled
 * differences. Degenerate inputs are fine: a group of one value, or constant data, has a single
 * possible resample, so the interval collapses onto the estimate.
 *
 * With the ≥ 5 seeds the fair protocol asks for, a percentile interval of a median is coarse (the resampled
 * medians take few distinct values); treat it as descriptive, not as an exact-coverage interval.
 */
export function bootstrapDiffCI(a: readonly number[], b: readonly number[], options: BootstrapOptions): BootstrapCI {
  assertSample(a, 'bootstrapDiffCI (a)');
  assertSample(b, 'bootstrapDiffCI (b)');
  const statistic = options.statistic ?? median;
  const resamples = options.resamples ?? 10_000;
  const confidence = options.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new Error(`bootstrapDiffCI: resamples must be a positive integer, got ${resamples}`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new Error(`bootstrapDiffCI: confidence must be in (0, 1), got ${confidence}`);
  }
  const rng = new Rng(options.seed);
  const bufA = new Array<number>(a.length);
  const bufB = new Array<number>(b.length);
  const diffs = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < a.length; i++) bufA[i] = a[rng.int(a.length)]!;
    for (let i = 0; i < b.length; i++) bufB[i] = b[rng.int(b.length)]!;
    diffs[r] = statistic(bufA) - statistic(bufB);
  }
  diffs.sort(); // Float64Array sorts numerically
  const alpha = 1 - confidence;
  return {
    estimate: statistic(a) - statistic(b),
    lo: quantileSorted7(diffs, alpha / 2),
    hi: quantileSorted7(diffs, 1 - alpha / 2),
    resamples,
  };
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U
// ---------------------------------------------------------------------------------------------

/**
 * The exact permutation distribution is used when there are no ties and both groups have fewer
 * than this many values — the same rule as R's `wilcox.test` (exact if m < 50 and n < 50 and no
 * ties). The recursion below costs about m²n²/4 additions, ~1.5M at 49 × 49, so it is cheap.
 */
export const MANN_WHITNEY_EXACT_LIMIT = 50;

export interface MannWhitneyResult {
  /** U for a: the number of pairs (a_i, b_j) with a_i > b_j, plus half the number of tied pairs. */
  u: number;
  /** U/(m·n), the estimated probability of superiority P(A > B) + ½·P(A = B). */
  probAGreater: number;
  /** Two-sided p-value for H0: the two samples come from the same distribution. */
  pValue: number;
  method: 'exact' | 'normal';
}

/**
 * Null distribution of U for group sizes m and n without ties: element u is P(U = u), u = 0..m·n.
 * Uses the recursion on probabilities (Mann & Whitney 1947)
 *   p_{i,j}(u) = i/(i+j) · p_{i−1,j}(u − j) + j/(i+j) · p_{i,j−1}(u)
 * (the largest of the i + j values is either an a, which then beats all j b's, or a b), which adds
 * only non-negative terms, so it stays accurate where the raw counts C(m+n, m) exceed 2^53.
 */
export function mannWhitneyNullDistribution(m: number, n: number): Float64Array {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || n < 1) {
    throw new Error(`mannWhitneyNullDistribution: sizes must be positive integers, got ${m}, ${n}`);
  }
  // prev[j] = distribution for (i − 1, j); cur[j] for (i, j). With i = 0 or j = 0, U ≡ 0.
  let prev: Float64Array[] = [];
  for (let j = 0; j <= n; j++) prev.push(Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)];
    for (let j = 1; j <= n; j++) {
      const d = new Float64Array(i * j + 1);
      const wa = i / (i + j);
      const wb = j / (i + j);
      const fromA = prev[j]!; // support 0..(i−1)·j, shifted by j
      const fromB = cur[j - 1]!; // support 0..i·(j−1)
      for (let u = 0; u < fromA.length; u++) d[u + j] += wa * fromA[u]!;
      for (let u = 0; u < fromB.length; u++) d[u] += wb * fromB[u]!;
      cur.push(d);
    }
    prev = cur;
  }
  return prev[n]!;
}

/** Standard normal upper tail 1 − Φ(z) for z ≥ 0, via simple-statistics' erf (|error| ≲ 1.2e-7). */
export function normalUpperTail(z: number): number {
  return 0.5 * (1 - errorFunction(z / Math.SQRT2));
}

/**
 * Mann–Whitney U test (Wilcoxon rank-sum) of a against b, two-sided.
 *
 * - 'exact': no ties anywhere in the pooled sample and m, n < MANN_WHITNEY_EXACT_LIMIT. The p-value is
 *   min(1, 2·min(P(U ≤ u), P(U ≥ u))) under the exact permutation distribution (as R computes it).
 * - 'normal': otherwise. U ~ N(mn/2, σ²) with the tie-corrected variance
 *   σ² = mn/12 · [(N + 1) − Σ(t³ − t)/(N(N − 1))], N = m + n, t = size of each tie group, and a
 *   continuity correction of ½ towards the mean: z = (U − mn/2 − ½·sign(U − mn/2))/σ, p = 2(1 − Φ(|z|)).
 *   When every value is tied σ = 0 and the data carry no evidence of a difference: p = 1.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  assertSample(a, 'mannWhitney (a)');
  assertSample(b, 'mannWhitney (b)');
  const m = a.length;
  const n = b.length;
  const mn = m * n;

  // Pairwise U directly: O(mn), trivially correct, and m, n are seed counts.
  let u = 0;
  for (const x of a) {
    for (const y of b) {
      if (x > y) u += 1;
      else if (x === y) u += 0.5;
    }
  }
  const probAGreater = u / mn;

  // Tie groups in the pooled sample.
  const pooled = sortedCopy([...a, ...b]);
  const N = pooled.length;
  let tieSum = 0; // Σ (t³ − t)
  for (let i = 0; i < N; ) {
    let j = i + 1;
    while (j < N && pooled[j] === pooled[i]) j++;
    const t = j - i;
    tieSum += t * t * t - t;
    i = j;
  }

  if (tieSum === 0 && m < MANN_WHITNEY_EXACT_LIMIT && n < MANN_WHITNEY_EXACT_LIMIT) {
    const dist = mannWhitneyNullDistribution(m, n);
    // u is an integer here (no ties).
    let lower = 0; // P(U ≤ u)
    for (let k = 0; k <= u; k++) lower += dist[k]!;
    let upper = 0; // P(U ≥ u)
    for (let k = u; k <= mn; k++) upper += dist[k]!;
    const pValue = Math.min(1, 2 * Math.min(lower, upper));
    return { u, probAGreater, pValue, method: 'exact' };
  }

  const mu = mn / 2;
  const variance = (mn / 12) * (N + 1 - tieSum / (N * (N - 1)));
  if (!(variance > 0)) return { u, probAGreater, pValue: 1, method: 'normal' };
  const d = u - mu;
  const z = (d - 0.5 * Math.sign(d)) / Math.sqrt(variance);
  const pValue = Math.min(1, 2 * normalUpperTail(Math.abs(z)));
  return { u, probAGreater, pValue, method: 'normal' };
}

/** Alias: P(A > B) + ½P(A = B) estimated as U/(m·n). */
export function probSuperiority(a: readonly number[], b: readonly number[]): number {
  return mannWhitney(a, b).probAGreater;
}

// ---------------------------------------------------------------------------------------------
// LR sensitivity (Wortsman et al. 2023)
// ---------------------------------------------------------------------------------------------

export interface LrPoint {
  lr: number;
  finalLoss: number;
  diverged: boolean;
}

export interface LrSensitivity {
  /** E_η[min(ℓ(η), ℓ₀) − ℓ*], the mean over the grid points given. */
  sensitivity: number;
  /** ℓ*, the lowest (clipped) final loss over the grid. */
  best: number;
  /** LR of the lowest finite, non-diverged final loss; null if no run finished with a finite loss. */
  bestLr: number | null;
}

/**
 * LR sensitivity as defined by Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer
 * training instabilities": E_{η ∈ grid}[min(ℓ(A(η)), ℓ₀) − ℓ*], where ℓ₀ is the loss at
 * initialisation and ℓ* the loss of the best LR. Clipping at ℓ₀ means a run that diverged (or ended
 * worse than where it started) costs exactly ℓ₀ − ℓ*, however badly it blew up, so one NaN does not
 * dominate the average. A run marked diverged, or with a non-finite final loss, counts as ℓ₀. The
 * expectation over their log-spaced grid is the plain mean over the grid points, so the caller's
 * grid should be log-spaced too (docs/references.md#fair-comparison: {3e-4, 1e-3, …, 3e-1}).
 *
 * ℓ* is taken over the clipped losses, i.e. min(best finite loss, ℓ₀); hence every term is ≥ 0, and
 * if nothing beats ℓ₀ the sensitivity is 0 (no LR learned anything, so there is nothing to be
 * sensitive about — check bestLr/best, not just this number).
 */
export function lrSensitivity(curve: readonly LrPoint[], initialLoss: number): LrSensitivity {
  if (curve.length === 0) throw new Error('lrSensitivity: needs at least one LR');
  if (!Number.isFinite(initialLoss)) throw new Error(`lrSensitivity: initialLoss must be finite, got ${initialLoss}`);
  const clipped = curve.map((pt) =>
    pt.diverged || !Number.isFinite(pt.finalLoss) ? initialLoss : Math.min(pt.finalLoss, initialLoss),
  );
  const best = Math.min(...clipped);
  let bestLr: number | null = null;
  let bestRaw = Infinity;
  for (const pt of curve) {
    if (!pt.diverged && Number.isFinite(pt.finalLoss) && pt.finalLoss < bestRaw) {
      bestRaw = pt.finalLoss;
      bestLr = pt.lr;
    }
  }
  let total = 0;
  for (const c of clipped) total += c - best;
  return { sensitivity: total / clipped.length, best, bestLr };
}

// ---------------------------------------------------------------------------------------------

/** Loss spikes per 1000 steps (docs/references.md#fair-comparison quotes per 10k; multiply by 10). */
export function spikesPer1k(count: number, steps: number): number {
  if (!(steps > 0)) throw new Error(`spikesPer1k: steps must be positive, got ${steps}`);
  if (!(count >= 0)) throw new Error(`spikesPer1k: count must be non-negative, got ${count}`);
  return (count * 1000) / steps;
}

/**
 * Per-index median of several series (e.g. loss curves over seeds), skipping series that ended or
 * went non-finite before that index; NaN where none has a finite value.
 */
export function medianPerIndex(series: readonly (readonly number[])[]): number[] {
  const length = Math.max(0, ...series.map((c) => c.length));
  return Array.from({ length }, (_, i) => {
    const xs = series.map((c) => c[i]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    return xs.length > 0 ? median(xs) : NaN;
  });
}

// ---------------------------------------------------------------------------------------------
// Multiplicity (Holm 1979; Bonferroni)
// ---------------------------------------------------------------------------------------------

/** The usual family-wise error rate of the study's verdicts. */
export const FAMILY_ALPHA = 0.05;

/**
 * Holm's step-down adjustment (Holm 1979), as R's `p.adjust(p, "holm")`: with the m p-values in
 * ascending order p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted p₍ᵢ₎ is max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎), returned
 * in the input's order. Rejecting where adjusted p ≤ α controls the family-wise error rate at α under
 * any dependence between the tests, and rejects everything Bonferroni rejects (it is uniformly more
 * powerful). Ties keep their input order, which does not change the result.
 */
export function holm(pValues: readonly number[]): number[] {
  for (const p of pValues) if (!(p >= 0 && p <= 1)) throw new Error(`holm: p-values must be in [0, 1], got ${p}`);
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]! || a - b);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((idx, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[idx]!));
    out[idx] = running;
  });
  return out;
}

/**
 * Two-sided confidence of each of m simultaneous intervals so that all m cover together with
 * probability ≥ 1 − α (Bonferroni): 1 − α/m. One interval (m ≤ 1) keeps 1 − α.
 */
export function bonferroniConfidence(m: number, alpha = FAMILY_ALPHA): number {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`bonferroniConfidence: alpha must be in (0, 1), got ${alpha}`);
  if (!(Number.isInteger(m) && m >= 0)) throw new Error(`bonferroniConfidence: m must be a non-negative integer, got ${m}`);
  return 1 - alpha / Math.max(1, m);
}

// ---------------------------------------------------------------------------------------------
// Growth of a positive per-step signal
// ---------------------------------------------------------------------------------------------

export interface LogSlope {
  /** Least-squares slope of ln(value) against step, per step. exp(1000·slope) is the growth factor per 1k steps. */
  readonly slope: number;
  /** Points used (finite, positive values). */
  readonly n: number;
}

/**
 * Ordinary least-squares slope of ln(y) on x, over the points where y is finite and > 0 (the log of
 * anything else is undefined; a signal that is 0 or negative there is skipped, not clamped). Needs at
 * least 2 points with distinct x, else null. Exponential growth y = a·e^{bx} gives exactly b.
 */
export function logSlope(xs: readonly number[], ys: readonly number[]): LogSlope | null {
  if (xs.length !== ys.length) throw new Error(`logSlope: ${xs.length} x values but ${ys.length} y values`);
  const px: number[] = [];
  const py: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i]!;
    if (Number.isFinite(xs[i]!) && Number.isFinite(y) && y > 0) {
      px.push(xs[i]!);
      py.push(Math.log(y));
    }
  }
  const n = px.length;
  if (n < 2) return null;
  const mx = px.reduce((a, b) => a + b, 0) / n;
  const my = py.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (px[i]! - mx) * (py[i]! - my);
    sxx += (px[i]! - mx) ** 2;
  }
  if (!(sxx > 0)) return null;
  return { slope: sxy / sxx, n };
}
