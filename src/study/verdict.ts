/**
 * Pre-registered primary endpoints and the verdict rule of the claim check
 * (docs/references.md#the-claim, docs/references.md#few-seeds). The study spec names one primary
 * endpoint per sub-claim before any run; a sub-claim is supported or contradicted only when its
 * primary endpoint is Holm-significant at α = 0.05 over the primary family, in that direction.
 * Otherwise it is inconclusive, and the verdict carries the smallest effect the design could have
 * detected (power 0.8) at the n it used. An endpoint the runs could not measure enters Holm with
 * p = 1 and is inconclusive, saying why; the family keeps its registered size. Every other endpoint
 * is exploratory: raw p and a descriptive interval, and it cannot change a verdict — `decideClaims`
 * computes the verdicts from the primary family alone, before it looks at the exploratory ones.
 *
 * Pure: plain arrays in, plain objects out, so the verdicts can be re-derived from a data bundle.
 */
import { FAMILY_ALPHA, holm } from './stats.js';
import type { SurvivalObservation } from './survival.js';
import {
  hodgesLehmann,
  logRankPermutation,
  noetherDetectableEffect,
  rankSumTest,
  schoenfeldDetectableHazard,
  type DetectableEffect,
  type DetectableHazard,
  type HodgesLehmann,
  type RankSumTest,
} from './exact.js';

/**
 * Sub-claims of the claim check: (a)–(f) as in v2 and (g), the positive control's mechanism. The one
 * home of the sub-claim names (claims.ts uses it for the v2 rule too, where (g) is never asked).
 */
export type SubClaimId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g';

/** The sub-claims in report order. */
export const SUB_CLAIM_IDS: readonly SubClaimId[] = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

/** The test of a primary endpoint: the exact rank-sum on per-run values, or the permutation log-rank on time to failure. */
export type EndpointTest = 'rank-sum' | 'log-rank';

/**
 * Which sign of (treatment − baseline) supports the sub-claim. For a per-run value (spikes per 1k
 * steps, final loss) 'treatment-lower' means the treatment's values are lower; for time to failure
 * it means the treatment's failure hazard is lower (fewer or later failures).
 */
export type SupportingDirection = 'treatment-lower' | 'treatment-higher';

/**
 * Which runs an endpoint reads (protocol.ts's phase names): the stress runs at its multipliers (the
 * ladder's rungs, or fixed ones), or the long-horizon phase's runs at the tuned LR × its multipliers.
 */
export type EndpointPhase = 'stress' | 'long';

/** An endpoint's phase: 'stress' unless it names another. */
export const phaseOf = (e: PrimaryEndpoint): EndpointPhase => e.phase ?? 'stress';

export interface PrimaryEndpoint {
  readonly subClaim: SubClaimId;
  /** Experiment name of the task, e.g. 'lm-moe'. */
  readonly task: string;
  /** Study arm, e.g. 'none', 'qkNorm', 'bf16'. */
  readonly arm: string;
  /** LR multipliers pooled into this endpoint (runs at each multiplier form one sample per optimizer). */
  readonly multipliers: readonly number[];
  /** e.g. 'late spikes/1k', 'time to failure', 'final eval loss'. */
  readonly metric: string;
  /** The spike detector counted, or null for metrics that use none. */
  readonly detector: string | null;
  readonly supportsWhen: SupportingDirection;
  readonly test: EndpointTest;
  /**
   * The phase whose cells it reads (default 'stress'). 'long': the long-horizon cells, with no arm
   * (that phase runs none) and a per-run value (time to failure is tested where the ladder makes
   * runs fail); its multipliers are then the long-horizon phase's.
   */
  readonly phase?: EndpointPhase;
  /**
   * 'first-failure': of the listed multipliers (the ladder's rungs), read only the stress cell at the
   * first rung where either optimizer failed in at least half its runs — the rung the arms run at
   * (failure.ts: firstFailure, armMultipliers); when neither failed at any, the highest rung the
   * ladder ran (both mostly censored there: "neither failed by the cap"). Time to failure on the
   * stress runs with no arm only. Absent: the runs at every listed multiplier, pooled.
   */
  readonly rung?: EndpointRung;
}

/** How an endpoint picks among its listed multipliers (PrimaryEndpoint.rung). */
export type EndpointRung = 'first-failure';

/** One endpoint's data: per-run values, or per-run survival observations (time to failure, censored at the horizon). */
export type EndpointSamples =
  | { readonly kind: 'values'; readonly treatment: readonly number[]; readonly baseline: readonly number[] }
  | { readonly kind: 'survival'; readonly treatment: readonly SurvivalObservation[]; readonly baseline: readonly SurvivalObservation[] };

/** A verdict, under either rule (v3's Holm over the primary family, or v2's family-wise intervals): its one home. */
export type VerdictKind = 'supported' | 'contradicted' | 'inconclusive';

export interface EndpointResult {
  /** Two-sided p of the endpoint's own test. */
  readonly p: number;
  /**
   * Which null distribution gave p: the rank-sum's (exact.ts), or 'permutation' for the log-rank's
   * seeded relabellings; null for an unmeasured primary endpoint (no test ran, p = 1 by rule).
   */
  readonly method: RankSumTest['method'] | 'permutation' | null;
  /** Seeded random permutations behind p (Monte-Carlo rank-sum and permutation log-rank); null for an exact p. */
  readonly permutations: number | null;
  /** Observed direction: 'treatment-lower' / 'treatment-higher', or null for an exact tie (U = mn/2, O = E). */
  readonly observed: SupportingDirection | null;
  /** Hodges–Lehmann shift, treatment − baseline, with its 95 % distribution-free interval (per-run values only). */
  readonly shift: HodgesLehmann | null;
  /** P(treatment > baseline) + ½ P(=) for values; O/E of the treatment for survival. */
  readonly effect: number;
  readonly nTreatment: number;
  readonly nBaseline: number;
  /** Survival data: failures in both groups together (null for per-run values). */
  readonly events: number | null;
}

export interface PrimaryResult extends EndpointResult {
  readonly endpoint: PrimaryEndpoint;
  /**
   * The data that entered the test, so that a published bundle can carry it for re-derivation; null
   * for an unmeasured endpoint (its p = 1 is the rule's, not a test's).
   */
  readonly samples: EndpointSamples | null;
  /** Holm-adjusted p over the primary family. */
  readonly holmP: number;
  /** Holm rejects the endpoint's null: holmP ≤ α. A verdict other than inconclusive needs it and an observed direction. */
  readonly rejected: boolean;
  readonly verdict: VerdictKind;
  /**
   * For an inconclusive verdict: the smallest effect the design could detect with power 0.8 at this
   * n (rank-sum: Noether) or this number of failures (log-rank: Schoenfeld) and family size (null
   * for an endpoint not measured).
   */
  readonly detectable: DetectableEffect | DetectableHazard | null;
  /**
   * Why the runs could not measure this endpoint, or null when they did. An unmeasured endpoint has
   * p = 1, no direction, no shift, effect NaN and n 0 / 0; it is inconclusive.
   */
  readonly unmeasured: string | null;
}

export interface ExploratoryEndpoint {
  /** A free label, e.g. 'lm-brown none ×2 zscore spikes/1k'. */
  readonly id: string;
  readonly samples: EndpointSamples;
}

export interface ExploratoryResult extends EndpointResult {
  readonly id: string;
}

export interface ClaimDecision {
  readonly alpha: number;
  /** Seed of the permutations (DecideOptions.seed), so the Monte-Carlo p's can be drawn again. */
  readonly seed: number;
  readonly primary: readonly PrimaryResult[];
  readonly exploratory: readonly ExploratoryResult[];
}

/** A pre-registered endpoint the runs could not measure (e.g. every run diverged, or the arm never ran). */
export interface UnmeasuredEndpoint {
  readonly endpoint: PrimaryEndpoint;
  readonly why: string;
}

/**
 * What the analysis made of a study's primary family: a verdict for every pre-registered endpoint.
 * One the runs could not measure enters Holm with p = 1 — a test that cannot reject, still a valid
 * p-value — and is inconclusive with its reason, so the family stays the registered size k and no
 * other endpoint faces an easier threshold: sorted last, it leaves the others Holm's strictest
 * steps (α/k first). Dropping it instead would shrink the family after seeing the data.
 */
export interface PrimaryOutcome {
  readonly family: readonly PrimaryEndpoint[];
  readonly decision: ClaimDecision;
  /** The endpoints the runs could not measure, with why (also on their rows of `decision`). */
  readonly unmeasured: readonly UnmeasuredEndpoint[];
  /**
   * Per measured sub-claim, the multipliers whose runs the endpoint pooled: an arm endpoint those of
   * its listed ones where the arm ran, a 'first-failure' endpoint the one rung it read.
   */
  readonly multipliersUsed: Readonly<Partial<Record<SubClaimId, readonly number[]>>>;
}

export interface DecideOptions {
  readonly alpha?: number;
  /** Seed of the permutation log-rank (and of Monte-Carlo rank-sum p past the exact limit). Default 0. */
  readonly seed?: number;
  readonly power?: number;
  /**
   * Pre-registered endpoints the runs could not measure, by sub-claim, with why: each enters Holm
   * with p = 1 and is inconclusive. Every endpoint of the family needs samples or a reason here.
   */
  readonly unmeasured?: Readonly<Partial<Record<SubClaimId, string>>>;
}

/** The metrics a primary endpoint can name (measured in primary.ts); a spike metric needs its detector. */
export const PRIMARY_METRICS: readonly string[] = ['late spikes/1k', 'spikes/1k', 'final eval loss', 'time to failure'];

/** Check a pre-registered family: one primary endpoint per sub-claim, each with a multiplier. */
export function validatePrimaryFamily(family: readonly PrimaryEndpoint[]): void {
  if (family.length === 0) throw new Error('primary family: expected at least one endpoint');
  const seen = new Set<SubClaimId>();
  for (const e of family) {
    if (seen.has(e.subClaim)) throw new Error(`primary family: sub-claim (${e.subClaim}) has more than one primary endpoint`);
    seen.add(e.subClaim);
    if (e.multipliers.length === 0) throw new Error(`primary family: (${e.subClaim}) names no multiplier`);
    if (!PRIMARY_METRICS.includes(e.metric)) throw new Error(`primary family: (${e.subClaim}) metric ${JSON.stringify(e.metric)}: expected one of ${PRIMARY_METRICS.join(', ')}`);
    if ((e.metric === 'time to failure') !== (e.test === 'log-rank')) throw new Error(`primary family: (${e.subClaim}) time to failure is tested by log-rank, every other metric by rank-sum`);
    if (e.metric.includes('spikes') && e.detector === null) throw new Error(`primary family: (${e.subClaim}) a spike metric needs its detector`);
    if (e.test === 'log-rank' && e.detector !== null) throw new Error(`primary family: (${e.subClaim}) is a time-to-failure endpoint and counts no detector`);
    if (e.phase !== undefined && e.phase !== 'stress' && e.phase !== 'long') throw new Error(`primary family: (${e.subClaim}) phase ${JSON.stringify(e.phase)}: expected stress or long`);
    if (e.phase === 'long' && (e.arm !== 'none' || e.test !== 'rank-sum')) {
      throw new Error(`primary family: (${e.subClaim}) reads the long-horizon phase: needs arm none (the phase runs no arms) and a per-run value tested by rank-sum (time to failure is the ladder's)`);
    }
    if (e.rung !== undefined && e.rung !== 'first-failure') throw new Error(`primary family: (${e.subClaim}) rung ${JSON.stringify(e.rung)}: expected first-failure`);
    if (e.rung === 'first-failure' && (e.arm !== 'none' || phaseOf(e) !== 'stress' || e.test !== 'log-rank')) {
      throw new Error(`primary family: (${e.subClaim}) reads the first-failure rung: needs arm none, the stress phase and time to failure tested by log-rank (the rule that places the arms, on the runs it reads)`);
    }
  }
}

/** An endpoint the runs could not measure: p = 1 (it cannot reject), no direction, no data. */
const UNMEASURED: EndpointResult = { p: 1, method: null, permutations: null, observed: null, shift: null, effect: NaN, nTreatment: 0, nBaseline: 0, events: null };

function evaluate(samples: EndpointSamples, seed: number): EndpointResult {
  if (samples.kind === 'values') {
    const t = rankSumTest(samples.treatment, samples.baseline, { seed });
    const half = (samples.treatment.length * samples.baseline.length) / 2;
    return {
      p: t.pValue,
      method: t.method,
      permutations: t.permutations ?? null,
      observed: t.u === half ? null : t.u < half ? 'treatment-lower' : 'treatment-higher',
      shift: hodgesLehmann(samples.treatment, samples.baseline),
      effect: t.probAGreater,
      nTreatment: samples.treatment.length,
      nBaseline: samples.baseline.length,
      events: null,
    };
  }
  const lr = logRankPermutation(samples.treatment, samples.baseline, { seed });
  const diff = lr.observedA - lr.expectedA;
  return {
    p: lr.permutationP,
    method: 'permutation',
    permutations: lr.permutations,
    observed: diff === 0 ? null : diff < 0 ? 'treatment-lower' : 'treatment-higher',
    shift: null,
    effect: lr.expectedA > 0 ? lr.observedA / lr.expectedA : NaN,
    nTreatment: samples.treatment.length,
    nBaseline: samples.baseline.length,
    events: lr.observedA + lr.observedB,
  };
}

/**
 * The verdicts of the primary family, and the exploratory endpoints beside them. Every primary
 * endpoint needs its data in `samples` or its reason in `options.unmeasured`, never neither or both:
 * an endpoint is not dropped silently. An unmeasured one enters Holm with p = 1 (PrimaryOutcome).
 * The Holm correction spans the whole primary family, and only it.
 */
export function decideClaims(
  family: readonly PrimaryEndpoint[],
  samples: Readonly<Partial<Record<SubClaimId, EndpointSamples>>>,
  exploratory: readonly ExploratoryEndpoint[] = [],
  options: DecideOptions = {},
): ClaimDecision {
  validatePrimaryFamily(family);
  const alpha = options.alpha ?? FAMILY_ALPHA;
  const seed = options.seed ?? 0;
  const why = options.unmeasured ?? {};
  const stray = Object.keys(why).filter((id) => !family.some((e) => e.subClaim === id));
  if (stray.length) throw new Error(`unmeasured sub-claim(s) ${stray.join(', ')}: not in the primary family`);
  // null for an unmeasured endpoint: it has no data, and its row says so (PrimaryResult.samples).
  const samplesOf = family.map((e) => (why[e.subClaim] === undefined ? (samples[e.subClaim] ?? null) : null));
  const results = family.map((e, i) => {
    const s = samplesOf[i];
    const reason = why[e.subClaim];
    if (samples[e.subClaim] && reason !== undefined) throw new Error(`primary endpoint (${e.subClaim}): both samples and a reason it was not measured`);
    if (reason !== undefined) return UNMEASURED;
    if (!s) throw new Error(`primary endpoint (${e.subClaim}) ${e.task}/${e.arm}: no samples, and no reason it was not measured`);
    const wanted = e.test === 'rank-sum' ? 'values' : 'survival';
    if (s.kind !== wanted) throw new Error(`primary endpoint (${e.subClaim}): the ${e.test} test needs ${wanted} samples, got ${s.kind}`);
    return evaluate(s, seed);
  });
  const adjusted = holm(results.map((r) => r.p));
  const primary = family.map((endpoint, i): PrimaryResult => {
    const r = results[i]!;
    const holmP = adjusted[i]!;
    const unmeasured = why[endpoint.subClaim] ?? null;
    const rejected = holmP <= alpha;
    const decided = rejected && r.observed !== null;
    const verdict: VerdictKind = !decided ? 'inconclusive' : r.observed === endpoint.supportsWhen ? 'supported' : 'contradicted';
    const power = options.power ?? 0.8;
    const detectable =
      decided || unmeasured !== null
        ? null
        : r.events === null
          ? noetherDetectableEffect(r.nTreatment, r.nBaseline, family.length, alpha, power)
          : schoenfeldDetectableHazard(r.events, r.nTreatment, r.nBaseline, family.length, alpha, power);
    return { ...r, endpoint, samples: samplesOf[i] ?? null, holmP, rejected, verdict, detectable, unmeasured };
  });
  // Exploratory endpoints are evaluated only after the verdicts are fixed, and never enter Holm.
  const explored = exploratory.map((x): ExploratoryResult => ({ id: x.id, ...evaluate(x.samples, seed) }));
  return { alpha, seed, primary, exploratory: explored };
}
