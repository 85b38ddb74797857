/**
 * Second pass of the analysis: the tests, the multiplicity correction and the intervals of the
 * study's family of endpoints (endpoints.ts), computed at once from the raw per-run values and
 * returned complete. For each endpoint: the difference of means with a percentile bootstrap 95% CI,
 * Mann–Whitney's P(treatment better) and p-value, a family-wise (Bonferroni-level) interval from the
 * same resampling, and Holm's adjusted p over every test of the study (these endpoints and the
 * log-rank tests, whose raw p-values the caller passes in). Deterministic: each bootstrap is seeded
 * by its endpoint's identity, so sharded-then-merged studies report the same numbers as unsharded ones.
 */
import type { EndpointSample } from './endpoints.js';
import { fmt3 } from './protocol.js';
import type { Comparison, Endpoint } from './results.js';
import type { VerdictKind } from './verdict.js';
import { bonferroniConfidence, bootstrapDiffCI, FAMILY_ALPHA, holm, mannWhitney } from './stats.js';

/** Seed of every bootstrap in a report, so reports are reproducible to the digit. */
export const BOOTSTRAP_SEED = 20231012;
export const BOOTSTRAP_RESAMPLES = 10_000;
/**
 * The family-wise intervals sit at the α/(2m) quantiles of the resampled differences; this many
 * resamples are expected beyond each end, so those quantiles are not set by one or two draws.
 */
export const ADJUSTED_TAIL_RESAMPLES = 10;

/** FNV-1a of an endpoint's identity: its bootstrap seed does not depend on which endpoints came before. */
function seedOf(e: EndpointSample): number {
  const id = `${e.task}\u0000${e.arm}\u0000${fmt3(e.multiplier)}\u0000${e.metric}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ BOOTSTRAP_SEED) >>> 0;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const constant = (xs: readonly number[]) => xs.every((x) => x === xs[0]);

function bootstrap(e: EndpointSample, confidence: number, resamples: number) {
  // Constant samples have one possible resample: the interval is the estimate (and needs no draws).
  if (constant(e.baseline) && constant(e.treatment)) {
    const d = e.treatment[0]! - e.baseline[0]!;
    return { estimate: d, lo: d, hi: d };
  }
  return bootstrapDiffCI(e.treatment, e.baseline, { statistic: mean, resamples, seed: seedOf(e), confidence });
}

export interface FamilyResult {
  /** One per endpoint, in the order given. */
  readonly comparisons: readonly Comparison[];
  /** Holm-adjusted p of each other test (the log-rank tests), in the order given. */
  readonly otherPHolm: readonly number[];
  /** Confidence of the family-wise intervals, 1 − α/m over the m endpoints. */
  readonly familyConfidence: number;
}

/** Every comparison of the family, and the Holm p of the other tests that share its correction. */
export function compareFamily(endpoints: readonly EndpointSample[], otherPValues: readonly number[]): FamilyResult {
  const m = endpoints.length;
  const familyConfidence = bonferroniConfidence(m, FAMILY_ALPHA);
  const adjustedResamples = Math.max(BOOTSTRAP_RESAMPLES, Math.ceil((ADJUSTED_TAIL_RESAMPLES * 2 * Math.max(1, m)) / FAMILY_ALPHA));
  const tests = endpoints.map((e) => mannWhitney(e.baseline, e.treatment));
  const pHolm = holm([...tests.map((t) => t.pValue), ...otherPValues]);
  const comparisons = endpoints.map((e, i): Comparison => {
    const ci = bootstrap(e, 0.95, BOOTSTRAP_RESAMPLES);
    const adj = bootstrap(e, familyConfidence, adjustedResamples);
    return {
      estimate: ci.estimate,
      lo: ci.lo,
      hi: ci.hi,
      adjLo: adj.lo,
      adjHi: adj.hi,
      probTreatmentBetter: tests[i]!.probAGreater,
      pValue: tests[i]!.pValue,
      pHolm: pHolm[i]!,
      nBaseline: e.baseline.length,
      nTreatment: e.treatment.length,
    };
  });
  return { comparisons, otherPHolm: pHolm.slice(m), familyConfidence };
}

/** Which side an endpoint's family-wise interval favours: below 0 the treatment, above 0 the baseline. */
export function favours(c: Comparison): Endpoint['favours'] {
  if (c.adjHi < 0) return 'treatment';
  if (c.adjLo > 0) return 'baseline';
  return null;
}

/** The verdict follows mechanically from the family-wise intervals: see `favours`. */
export function verdictFrom(endpoints: readonly Pick<Endpoint, 'favours'>[]): VerdictKind {
  const forTreatment = endpoints.some((e) => e.favours === 'treatment');
  const forBaseline = endpoints.some((e) => e.favours === 'baseline');
  if (forTreatment && !forBaseline) return 'supported';
  if (forBaseline && !forTreatment) return 'contradicted';
  return 'inconclusive';
}
