/**
 * The shapes of a study's analysis, as the report, the claim check and the figures read them. Every
 * value is built once, complete, by the pure pass in analyze.ts (from the cells of cells.ts): nothing
 * here is filled in later, so every field is readonly.
 */
import type { ExperimentSpec } from '../train/config.js';
import type { ArmName } from './arms.js';
import type { StudyRun } from './collect.js';
import type { FailureReason } from './failure.js';
import type { StudySpec } from './protocol.js';
import type { Summary } from './stats.js';
import type { KaplanMeierStep, LogRank } from './survival.js';
import type { PrimaryOutcome, VerdictKind } from './verdict.js';

export interface Comparison {
  /** treatment − baseline, in means (rates and counts are sparse: medians would mostly be 0). */
  readonly estimate: number;
  /** Percentile bootstrap 95% CI (per endpoint, unadjusted). */
  readonly lo: number;
  readonly hi: number;
  /** Family-wise interval: confidence 1 − α/m over the m endpoints (Bonferroni), from the same resampling scheme. */
  readonly adjLo: number;
  readonly adjHi: number;
  /** P(treatment lower than baseline) + ½ P(tie), i.e. Mann–Whitney U / (m·n). Lower is better here. */
  readonly probTreatmentBetter: number;
  readonly pValue: number;
  /** Holm-adjusted p-value over every test in the study (these endpoints and the log-rank tests). */
  readonly pHolm: number;
  readonly nBaseline: number;
  readonly nTreatment: number;
}

export interface LabelCell {
  readonly n: number;
  readonly lr: number;
  readonly diverged: number;
  readonly divergenceRate: number;
  /** Runs that failed (diverged, or ended at or above their initial loss or k × the task's best tuned loss). */
  readonly failed: number;
  readonly failureRate: number;
  readonly failureReasons: Readonly<Partial<Record<FailureReason, number>>>;
  /** Horizon minus the step the run diverged at (0 if it did not), over every run. */
  readonly stepsLost: Summary;
  readonly spikesPer1k: Readonly<Record<string, Summary>>;
  /** Spike events that start in the second half of the horizon, per 1k steps of that half. */
  readonly lateSpikesPer1k: Readonly<Record<string, Summary>>;
  readonly finalEvalLoss: Summary | null;
}

/** The Kaplan–Meier curve of time to divergence of one label's runs. */
export interface SurvivalCurve {
  readonly n: number;
  readonly events: number;
  readonly median: number | null;
  readonly steps: readonly KaplanMeierStep[];
}

export interface SurvivalCell {
  readonly byLabel: Readonly<Record<string, SurvivalCurve>>;
  readonly logRank: LogRank & { readonly pHolm: number };
}

export interface StressCell {
  readonly task: string;
  readonly multiplier: number;
  /** 'none' for the stress runs. */
  readonly arm: ArmName;
  readonly byLabel: Readonly<Record<string, LabelCell>>;
  /** label → the runs every number of this cell comes from (figures draw them; nothing reloads them). */
  readonly runs: Readonly<Record<string, readonly StudyRun[]>>;
  /** Missing when either side has no finished run. */
  readonly divergence?: Comparison;
  readonly failure?: Comparison;
  readonly finalEval?: Comparison;
  readonly stepsLost?: Comparison;
  readonly spikes: Readonly<Record<string, Comparison>>;
  readonly lateSpikes: Readonly<Record<string, Comparison>>;
  readonly survival?: SurvivalCell;
}

export interface TuningPoint {
  readonly lr: number;
  readonly medianEvalLoss: number;
  readonly diverged: number;
  readonly n: number;
}

export interface TuningResult {
  readonly grid: readonly TuningPoint[];
  /** The best median eval loss among LRs whose tuning runs diverged in no seed (tuning.ts). */
  readonly tunedLr: number;
  /** The best median eval loss over the whole grid; differs from tunedLr when that LR diverged in some seed. */
  readonly bestScoringLr: number;
  /** No grid LR was free of divergence: the tuned LR is the best of those with the fewest. */
  readonly noEligibleLr: boolean;
  readonly sensitivity: number;
  readonly bestLoss: number;
  readonly initialLoss: number;
}

export interface BalanceTrace {
  /** Median over seeds of each tenth of training's mean. */
  readonly maxVio: readonly number[];
  readonly routerMaxLogit: readonly number[];
  readonly deadExperts: readonly number[];
  /** routerMaxLogit last tenth ÷ first tenth. */
  readonly logitGrowth: number;
}

/** Growth of one per-step signal over the last half of a cell's runs. */
export interface GrowthRow {
  readonly task: string;
  readonly arm: ArmName;
  readonly label: string;
  readonly multiplier: number;
  readonly signal: string;
  /** Per run: least-squares slope of ln(signal) on step over the last half, × 1000 (log-units per 1k steps). */
  readonly slopePer1k: Summary | null;
  /** Runs with enough points in their last half (≥ MIN_GROWTH_POINTS). */
  readonly runs: number;
}

export interface Endpoint {
  readonly task: string;
  readonly multiplier: number;
  /** 'none' for the stress runs. */
  readonly arm: ArmName;
  readonly metric: string;
  readonly comparison: Comparison;
  /** 'treatment' when the family-wise interval lies below 0, 'baseline' when above, null when it straddles 0. */
  readonly favours: 'treatment' | 'baseline' | null;
}

/** One arm of one task: run (with its multipliers) or not run (and what it needs). */
export interface ArmStatus {
  readonly task: string;
  readonly arm: ArmName;
  readonly multipliers: readonly number[];
  /** Why these multipliers: each optimizer's first failing multiplier (null: never failed). */
  readonly firstFailure: Readonly<Record<string, number | null>>;
  readonly needs?: string;
}

/** A median training-loss curve of one label in one stress cell. */
export interface MedianCurve {
  readonly values: readonly number[];
  readonly diverged: number;
  readonly n: number;
}

/** A phase of the study (study.ts's order) with runs still to do. */
export interface UnfinishedPhase {
  readonly phase: 'tuning' | 'stress' | 'ladder' | 'long horizon' | 'arms';
  /** Its runs expected and not found; null for the arms while an earlier phase is unfinished (where they run is not settled). */
  readonly missing: number | null;
  /** The ladder: task → the next rung its stopping rule asks for. */
  readonly next?: Readonly<Record<string, number>>;
}

export interface StudyResults {
  readonly spec: StudySpec;
  readonly experiments: Readonly<Record<string, ExperimentSpec>>;
  readonly runsFound: number;
  /** Backends the runs were computed on (one, unless shards were run on different machines). */
  readonly backends: readonly string[];
  readonly runsExpected: number;
  readonly missing: readonly string[];
  /** The phases with runs to do, in run order (unfinished.ts); empty once the study is finished. */
  readonly unfinished: readonly UnfinishedPhase[];
  readonly tuning: Readonly<Record<string, Readonly<Record<string, TuningResult>>>>;
  /** The stress cells (arm 'none'), task → multiplier order. */
  readonly stress: readonly StressCell[];
  /** The arm cells, task → arm → multiplier order. */
  readonly armCells: readonly StressCell[];
  readonly arms: readonly ArmStatus[];
  /** k of the failed endpoint. */
  readonly failureLossFactor: number;
  /** task → the best tuned loss the failed endpoint scales by k. */
  readonly bestTunedLoss: Readonly<Record<string, number>>;
  /** task → label → multiplier → trace (MoE tasks only). */
  readonly balance: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, BalanceTrace>>>>>>;
  readonly growth: readonly GrowthRow[];
  readonly endpoints: readonly Endpoint[];
  /** Confidence of the family-wise intervals, 1 − α/m. */
  readonly familyConfidence: number;
  /**
   * The v2 rule's verdict over every endpoint's family-wise interval. In a study with a primary
   * family it is exploratory; in a v2 study it is what v2 reported, kept unchanged.
   */
  readonly verdict: VerdictKind;
  /** The pre-registered primary family and its verdicts; null for a study without one (v2). */
  readonly primary: PrimaryOutcome | null;
  readonly detectors: readonly string[];
  /** Representative curves: task → multiplier → label → median loss per step, and how many runs diverged. */
  readonly curves: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, MedianCurve>>>>>>;
}
