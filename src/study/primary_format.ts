/**
 * primary.json, the primary family of a published bundle as its verdicts were decided: for each
 * pre-registered endpoint its definition, the per-run samples per optimizer that entered its test,
 * the test's p with what is needed to draw it again (method, seed, permutations), the Holm-adjusted
 * p and decision, and the verdict. Written beside REPORT.md by `report` on a bundle (and so by
 * `publish`), from the same analysis (primary_export.ts).
 *
 * This file has no imports on purpose: the independent re-derivation (rederive.ts) reads the
 * format without touching the implementation it checks (verdict.ts, exact.ts). Plain JSON types, so
 * every number is written with JavaScript's round-trip digits and read back to the same double.
 */

export const PRIMARY_FORMAT = 'optimizer-sandbox primary family';
/**
 * Bumped whenever a reader of an older primary.json would misread a newer one. 2: an unmeasured
 * endpoint is a row of the decision (p = 1 in Holm, no samples, no test), where version 1 had no
 * decision at all; a version-1 reader would take its null samples for damage.
 */
export const PRIMARY_VERSION = 2;

export type FileDirection = 'treatment-lower' | 'treatment-higher';
export type FileVerdict = 'supported' | 'contradicted' | 'inconclusive';

/** A pre-registered endpoint as the study spec states it (verdict.ts's PrimaryEndpoint). */
export interface FileEndpoint {
  readonly subClaim: string;
  readonly task: string;
  readonly arm: string;
  readonly multipliers: readonly number[];
  readonly metric: string;
  readonly detector: string | null;
  readonly supportsWhen: FileDirection;
  readonly test: 'rank-sum' | 'log-rank';
  /** The phase whose cells it reads: 'stress' (the default when absent) or 'long' (the long-horizon runs). */
  readonly phase?: 'stress' | 'long';
  /** 'first-failure': only the one listed rung where either optimizer first failed in half its runs (multipliersUsed names it). */
  readonly rung?: 'first-failure';
}

/**
 * How p was computed; every test is two-sided. 'exact': U's exact distribution (no ties);
 * 'exact-midrank': the exact permutation distribution of the mid-rank sum; 'monte-carlo': seeded
 * random permutations of the mid-ranks; 'permutation': the log-rank's seeded relabellings. Seeded
 * draws use the sandbox's generator (src/data/rng.ts) as `new Rng(seed).permutation(n)`, once per
 * draw, and p = (1 + #{as extreme})/(1 + permutations).
 */
export interface FileTest {
  /** null for an unmeasured endpoint: no test ran, its p = 1 is the rule's. */
  readonly method: 'exact' | 'exact-midrank' | 'monte-carlo' | 'permutation' | null;
  readonly seed: number;
  /** Random permutations drawn; null for an exact p (0 when the log-rank had no variance and p = 1). */
  readonly permutations: number | null;
}

/** A run's survival observation: the step it failed at (event) or the steps it ran without failing. */
export interface FileObservation {
  readonly time: number;
  readonly event: boolean;
}

/** Per-run values (one per run), or survival observations, per optimizer. */
export type FileSamples =
  | { readonly kind: 'values'; readonly treatment: readonly number[]; readonly baseline: readonly number[] }
  | { readonly kind: 'survival'; readonly treatment: readonly FileObservation[]; readonly baseline: readonly FileObservation[] };

/** One endpoint of a decided family, in family order (the order Holm's ties keep). */
export interface FileRow {
  readonly endpoint: FileEndpoint;
  /**
   * Why the runs could not measure the endpoint, or null when they did. An unmeasured row has no
   * samples, no multipliers, method null, p = 1 (it enters Holm so, and cannot be rejected), no
   * direction and verdict inconclusive; the top-level `unmeasured` lists the same reason.
   */
  readonly unmeasured: string | null;
  /**
   * The multipliers whose runs were pooled (an arm endpoint: those of its listed ones where the arm
   * ran; a first-failure endpoint: the one rung); empty for an unmeasured endpoint.
   */
  readonly multipliersUsed: readonly number[];
  readonly test: FileTest;
  /** null exactly when the endpoint is unmeasured. */
  readonly samples: FileSamples | null;
  readonly p: number;
  /** Observed direction of treatment − baseline; null for an exact tie (U = mn/2, or O = E). */
  readonly observed: FileDirection | null;
  /** Holm-adjusted p over the whole family. */
  readonly holmP: number;
  /** holmP ≤ alpha. */
  readonly rejected: boolean;
  /** Supported or contradicted only when rejected, in the observed direction; inconclusive otherwise. */
  readonly verdict: FileVerdict;
}

export interface PrimaryFile {
  readonly format: string;
  readonly version: number;
  readonly treatment: string;
  readonly baseline: string;
  /** The pre-registered family; null for a study that registered none (v2): nothing to re-derive. */
  readonly family: readonly FileEndpoint[] | null;
  /** Endpoints the runs could not measure, with why: each is also a row of the decision, with p = 1. */
  readonly unmeasured: readonly { readonly subClaim: string; readonly why: string }[];
  /** Every registered endpoint's row, in family order; null only when there is no family. */
  readonly decision: { readonly alpha: number; readonly rows: readonly FileRow[] } | null;
}
