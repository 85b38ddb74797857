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
/** Bumped whenever a reader of an older primary.json would misread a newer one. */
export const PRIMARY_VERSION = 1;

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
}

/**
 * How p was computed; every test is two-sided. 'exact': U's exact distribution (no ties);
 * 'exact-midrank': the exact permutation distribution of the mid-rank sum; 'monte-carlo': seeded
 * random permutations of the mid-ranks; 'permutation': the log-rank's seeded relabellings. Seeded
 * draws use the sandbox's generator (src/data/rng.ts) as `new Rng(seed).permutation(n)`, once per
 * draw, and p = (1 + #{as extreme})/(1 + permutations).
 */
export interface FileTest {
  readonly method: 'exact' | 'exact-midrank' | 'monte-carlo' | 'permutation';
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
  /** The multipliers whose runs were pooled (an arm endpoint: those of its listed ones where the arm ran). */
  readonly multipliersUsed: readonly number[];
  readonly test: FileTest;
  readonly samples: FileSamples;
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
  /** Endpoints the runs could not measure; when any is, the family decides nothing (decision null). */
  readonly unmeasured: readonly { readonly subClaim: string; readonly why: string }[];
  readonly decision: { readonly alpha: number; readonly rows: readonly FileRow[] } | null;
}
