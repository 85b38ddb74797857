/**
 * A second, independent implementation of the primary family's statistics, for re-deriving a
 * published bundle's verdicts (rederive.ts): the two-sided rank-sum p, the two-sided permutation
 * log-rank p and Holm's step-down. It shares the definitions of exact.ts and stats.ts (written down
 * in primary_format.ts) and none of their code: it imports neither, nor anything that does, so a
 * fault there cannot hide here. Where a definition leaves room (the order of counting, the data
 * structure), it counts differently on purpose:
 *
 * - rank-sum, exact: the permutation distribution of the mid-rank sum, conditional on the ties,
 *   built over the tie groups with binomial weights (a group of c equal values contributes k of
 *   them to the treatment in C(c, k) ways) rather than one subset-sum item per run. Without ties it
 *   is the distribution of U + m(m+1)/2, so the same DP re-derives both of exact.ts's exact methods.
 *   p = min(1, 2·min(P(W ≤ w), P(W ≥ w))) with W the doubled mid-rank sum of the treatment;
 * - seeded draws (a Monte-Carlo rank-sum, the permutation log-rank): the definition includes the
 *   draws, so they come from the sandbox's generator (src/data/rng.ts) with the bundle's seed, one
 *   `permutation(N)` per draw, its first m indices forming the treatment; the statistic of each draw
 *   is computed here; p = (1 + #{as extreme})/(1 + B);
 * - log-rank: |O − E|/√V of the treatment, hypergeometric V (Mantel), a draw "as extreme" when its
 *   statistic is ≥ the observed one less a 1e-12 relative allowance for rounding.
 */
import { Rng } from '../data/rng.js';
import type { FileObservation } from './primary_format.js';

/** C(n, k) as a double (exact while it is below 2⁵³; the weights here stay far below that). */
function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/** The pooled values in tie groups, ascending: each group's value, size, and doubled mid-rank. */
function tieGroups(pooled: readonly number[]): { value: number; size: number; rank2: number }[] {
  const sorted = [...pooled].sort((x, y) => x - y);
  const groups: { value: number; size: number; rank2: number }[] = [];
  let below = 0;
  while (below < sorted.length) {
    let size = 1;
    while (below + size < sorted.length && sorted[below + size] === sorted[below]) size++;
    // Ranks below+1 … below+size share their mean; doubled: 2·below + size + 1, an integer.
    groups.push({ value: sorted[below]!, size, rank2: 2 * below + size + 1 });
    below += size;
  }
  return groups;
}

/** U of a against b: pairs with a_i > b_j, plus half of the tied pairs. Observed direction of the rank-sum. */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

const twoSided = (lower: number, upper: number) => Math.min(1, 2 * Math.min(lower, upper));

/**
 * The rank-sum p, two-sided. `draws` null: exact, conditional on the ties. Otherwise Monte Carlo
 * with `draws.permutations` seeded permutations of the pooled runs (treatment first, then baseline).
 */
export function rankSumP(a: readonly number[], b: readonly number[], draws: { seed: number; permutations: number } | null): number {
  const m = a.length;
  const groups = tieGroups([...a, ...b]);
  const rank2Of = new Map(groups.map((g) => [g.value, g.rank2]));
  const w = a.reduce((s, x) => s + rank2Of.get(x)!, 0);
  if (draws) {
    const ranks = [...a, ...b].map((x) => rank2Of.get(x)!);
    const rng = new Rng(draws.seed);
    let atMost = 0;
    let atLeast = 0;
    for (let d = 0; d < draws.permutations; d++) {
      const perm = rng.permutation(ranks.length);
      let s = 0;
      for (let i = 0; i < m; i++) s += ranks[perm[i]!]!;
      if (s <= w) atMost++;
      if (s >= w) atLeast++;
    }
    return twoSided((1 + atMost) / (1 + draws.permutations), (1 + atLeast) / (1 + draws.permutations));
  }
  // ways[j][t]: weighted count of ways to give the treatment j runs of the groups so far with doubled rank sum t.
  const top = 2 * (m + b.length) * m;
  let ways = Array.from({ length: m + 1 }, () => new Float64Array(top + 1));
  ways[0]![0] = 1;
  for (const g of groups) {
    const next = Array.from({ length: m + 1 }, () => new Float64Array(top + 1));
    for (let j = 0; j <= m; j++) {
      const from = ways[j]!;
      for (let k = 0; k <= Math.min(g.size, m - j); k++) {
        const weight = binomial(g.size, k);
        const to = next[j + k]!;
        const shift = k * g.rank2;
        for (let t = 0; t + shift <= top; t++) if (from[t]! !== 0) to[t + shift]! += weight * from[t]!;
      }
    }
    ways = next;
  }
  const dist = ways[m]!;
  let total = 0;
  let lower = 0;
  let upper = 0;
  dist.forEach((c, t) => {
    total += c;
    if (t <= w) lower += c;
    if (t >= w) upper += c;
  });
  return twoSided(lower / total, upper / total);
}

/** Observed and expected events of the treatment, and V, for a labelling of the pooled runs. */
interface LogRankParts {
  readonly o: number;
  readonly e: number;
  readonly v: number;
}

/**
 * The log-rank's label-free part of the pooled runs (event times, at risk and events per time,
 * and how many event times each run is at risk at), and its statistic for any labelling.
 */
function logRankOf(pooled: readonly FileObservation[]): (inTreatment: (i: number) => boolean) => LogRankParts {
  const times = [...new Set(pooled.filter((x) => x.event).map((x) => x.time))].sort((x, y) => x - y);
  const atRisk = times.map((t) => pooled.filter((x) => x.time >= t).length);
  const events = times.map((t) => pooled.filter((x) => x.event && x.time === t).length);
  const riskCount = pooled.map((x) => times.filter((t) => t <= x.time).length);
  return (inTreatment) => {
    // byCount[c]: treatment runs at risk at exactly the first c event times; a suffix sum gives n_T at each.
    const byCount = new Array<number>(times.length + 1).fill(0);
    let o = 0;
    pooled.forEach((x, i) => {
      if (!inTreatment(i)) return;
      byCount[riskCount[i]!]!++;
      if (x.event) o++;
    });
    let nT = byCount.reduce((s, c) => s + c, 0);
    let e = 0;
    let v = 0;
    times.forEach((_, j) => {
      nT -= byCount[j]!;
      const n = atRisk[j]!;
      const d = events[j]!;
      const share = nT / n;
      e += d * share;
      if (n > 1) v += (d * share * (1 - share) * (n - d)) / (n - 1);
    });
    return { o, e, v };
  };
}

/**
 * The permutation log-rank of a (treatment) against b: the observed O − E of a (its sign is the
 * observed direction) and the two-sided p over `permutations` seeded relabellings; p = 1 when V = 0.
 */
export function logRankP(a: readonly FileObservation[], b: readonly FileObservation[], draws: { seed: number; permutations: number }): { p: number; oMinusE: number } {
  const pooled = [...a, ...b];
  const stat = logRankOf(pooled);
  const observed = stat((i) => i < a.length);
  if (observed.v === 0) return { p: 1, oMinusE: observed.o - observed.e };
  const z = ({ o, e, v }: LogRankParts) => (v > 0 ? Math.abs(o - e) / Math.sqrt(v) : 0);
  const zObserved = z(observed);
  const rng = new Rng(draws.seed);
  let extreme = 0;
  const chosen = new Uint8Array(pooled.length);
  for (let d = 0; d < draws.permutations; d++) {
    const perm = rng.permutation(pooled.length);
    chosen.fill(0);
    for (let i = 0; i < a.length; i++) chosen[perm[i]!] = 1;
    if (z(stat((i) => chosen[i] === 1)) >= zObserved * (1 - 1e-12)) extreme++;
  }
  return { p: (1 + extreme) / (1 + draws.permutations), oMinusE: observed.o - observed.e };
}

/** Holm's step-down adjusted p's, in input order: ascending, (k − i)·p₍ᵢ₎ capped at 1, never below the previous one. */
export function holmAdjusted(ps: readonly number[]): number[] {
  const k = ps.length;
  const ascending = ps.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p || x.i - y.i);
  const out = new Array<number>(k);
  let floor = 0;
  ascending.forEach(({ p, i }, step) => {
    floor = Math.max(floor, Math.min(1, (k - step) * p));
    out[i] = floor;
  });
  return out;
}
