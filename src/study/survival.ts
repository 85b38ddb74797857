/**
 * Time to divergence as survival data: the Kaplan–Meier estimator and the two-group log-rank test
 * (Mantel 1966; Peto & Peto 1972), as in R's `survival::survfit` and `survdiff(rho = 0)`. Pure
 * functions on plain arrays, unit-tested against textbook values (Freireich's 6-MP leukaemia data).
 *
 * In the study a run is an observation: its time is the step it diverged at (an event) or the
 * steps it completed without diverging (censored, at the end of its horizon).
 */
import { errorFunction } from 'simple-statistics';

export interface SurvivalObservation {
  /** Event or censoring time (> 0). */
  readonly time: number;
  /** true: the event happened at `time`; false: the observation was censored at `time`. */
  readonly event: boolean;
}

export interface KaplanMeierStep {
  /** A distinct event time. */
  readonly time: number;
  /** At risk just before `time` (time ≥ this one). */
  readonly atRisk: number;
  readonly events: number;
  /** Ŝ(t) from this time until the next step. */
  readonly survival: number;
}

export interface KaplanMeier {
  readonly n: number;
  readonly events: number;
  /** One entry per distinct event time, ascending. Ŝ = 1 before the first. */
  readonly steps: readonly KaplanMeierStep[];
  /** Smallest time with Ŝ(t) ≤ 0.5; null when Ŝ never falls to 0.5 ("not reached"). */
  readonly median: number | null;
}

function check(obs: readonly SurvivalObservation[], what: string): void {
  for (const o of obs) {
    if (!(Number.isFinite(o.time) && o.time >= 0)) throw new Error(`${what}: times must be finite and ≥ 0, got ${o.time}`);
  }
}

/**
 * Ŝ(t) = Π_{tⱼ ≤ t} (1 − dⱼ/nⱼ) over the distinct event times tⱼ, dⱼ events at tⱼ and nⱼ observations
 * with time ≥ tⱼ. A censoring at an event time counts as at risk at that time (the usual convention:
 * events first). The median is the smallest t with Ŝ(t) ≤ ½ (R takes the midpoint to the next event
 * time when Ŝ sits exactly at ½; with the study's 5 seeds Ŝ steps by fifths and never equals ½).
 */
export function kaplanMeier(obs: readonly SurvivalObservation[]): KaplanMeier {
  check(obs, 'kaplanMeier');
  const times = [...new Set(obs.filter((o) => o.event).map((o) => o.time))].sort((a, b) => a - b);
  const steps: KaplanMeierStep[] = [];
  let s = 1;
  let median: number | null = null;
  for (const t of times) {
    const atRisk = obs.filter((o) => o.time >= t).length;
    const events = obs.filter((o) => o.event && o.time === t).length;
    s *= 1 - events / atRisk;
    steps.push({ time: t, atRisk, events, survival: s });
    if (median === null && s <= 0.5 + 1e-12) median = t;
  }
  return { n: obs.length, events: obs.filter((o) => o.event).length, steps, median };
}

/** Ŝ(t) from a fitted curve (right-continuous step function). */
export function survivalAt(km: KaplanMeier, t: number): number {
  let s = 1;
  for (const step of km.steps) {
    if (step.time > t) break;
    s = step.survival;
  }
  return s;
}

export interface LogRank {
  /** Observed and expected events in group a (under H0: one survival curve for both). */
  readonly observedA: number;
  readonly expectedA: number;
  readonly observedB: number;
  readonly expectedB: number;
  /** Hypergeometric variance of O_a − E_a. */
  readonly variance: number;
  /** (O_a − E_a)² / V, χ² with 1 degree of freedom under H0. */
  readonly chiSquare: number;
  readonly pValue: number;
}

/**
 * Two-group log-rank test. At each distinct event time tⱼ of the pooled sample, with nⱼ at risk
 * (n_aj in group a) and dⱼ events (d_aj in a): E_a = Σ dⱼ·n_aj/nⱼ and
 * V = Σ dⱼ·(n_aj/nⱼ)·(1 − n_aj/nⱼ)·(nⱼ − dⱼ)/(nⱼ − 1) (the last factor is 1 when nⱼ = 1).
 * χ² = (O_a − E_a)²/V, p = P(χ²₁ ≥ χ²) = erfc(√(χ²/2)). No events, or V = 0 (e.g. every event at
 * one time with everyone at risk in one group), carries no evidence: χ² = 0, p = 1.
 */
export function logRank(a: readonly SurvivalObservation[], b: readonly SurvivalObservation[]): LogRank {
  check(a, 'logRank (a)');
  check(b, 'logRank (b)');
  const pooled = [...a.map((o) => ({ ...o, inA: true })), ...b.map((o) => ({ ...o, inA: false }))];
  const times = [...new Set(pooled.filter((o) => o.event).map((o) => o.time))].sort((x, y) => x - y);
  let expectedA = 0;
  let variance = 0;
  for (const t of times) {
    const risk = pooled.filter((o) => o.time >= t);
    const n = risk.length;
    const nA = risk.filter((o) => o.inA).length;
    const d = risk.filter((o) => o.event && o.time === t).length;
    const share = nA / n;
    expectedA += d * share;
    if (n > 1) variance += (d * share * (1 - share) * (n - d)) / (n - 1);
  }
  const observedA = a.filter((o) => o.event).length;
  const observedB = b.filter((o) => o.event).length;
  const expectedB = observedA + observedB - expectedA;
  const chiSquare = variance > 0 ? (observedA - expectedA) ** 2 / variance : 0;
  const pValue = variance > 0 ? Math.min(1, Math.max(0, 1 - errorFunction(Math.sqrt(chiSquare / 2)))) : 1;
  return { observedA, expectedA, observedB, expectedB, variance, chiSquare, pValue };
}
