/**
 * The shapes of a study's analysis, as the report, the claim check and the figures read them. Every
 * value is built once, complete, by the pure pass in analyze.ts (from the cells of cells.ts): nothing
 * here is filled in later, so every field is readonly.
 */
import type { ExperimentSpec } from '../train/config.js';
import type { ArmName } from './arms.js';
import type { StudyRun } from './collect.js';
import type { HodgesLehmann } from './exact.js';
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
  /** Per curve bucket (digest.ts), the median over runs of each run's bucket mean. */
  readonly values: readonly number[];
  /** Steps per value: value i covers steps i·stepsPerValue + 1 … (i + 1)·stepsPerValue. */
  readonly stepsPerValue: number;
  readonly diverged: number;
  readonly n: number;
}

/** One rung of a task's stress ladder: per optimizer, its failed runs (failure.ts) of those found. */
export interface LadderRung {
  readonly multiplier: number;
  readonly byLabel: Readonly<Record<string, { readonly failed: number; readonly n: number }>>;
}

/** A task's stress ladder as it ran: its rungs, where each optimizer first failed, and why it stopped. */
export interface LadderResult {
  readonly task: string;
  readonly cap: number;
  /** The rungs with runs, lowest first. */
  readonly rungs: readonly LadderRung[];
  /** Per optimizer, the lowest rung where at least half its runs failed (null: none). */
  readonly firstFailure: Readonly<Record<string, number | null>>;
  /** 'both failed' and 'cap' are ladderNext's two stops; 'unfinished': it would run `next` (runs missing). */
  readonly stop: 'both failed' | 'cap' | 'unfinished';
  readonly next: number | null;
}

/** One optimizer in one long-horizon cell. */
export interface LongSide {
  readonly n: number;
  readonly diverged: number;
  /** Over the runs that did not diverge. */
  readonly finalEvalLoss: Summary | null;
  /** Per detector the runs recorded (LongResult.detectors), over the runs that did not diverge and have per-step records. */
  readonly lateSpikes: Readonly<Record<string, Summary>>;
}

/** A long-horizon cell (task × multiplier), with exact rank-sum p-values (exploratory, unadjusted). */
export interface LongResult {
  readonly task: string;
  readonly multiplier: number;
  readonly steps: number;
  readonly tokens: number;
  readonly tokensPerActiveParam: number;
  /** The detectors the runs recorded: the rolling median first (LONG_DETECTOR), then the others, sorted. */
  readonly detectors: readonly string[];
  readonly byLabel: Readonly<Record<string, LongSide>>;
  /** Two-sided exact rank-sum p of final eval loss (a diverged run counts as its initial loss); null without both sides. */
  readonly finalEvalP: number | null;
  /** The same for late spikes/1k, per detector; null without enough non-diverged runs with records on each side. */
  readonly lateSpikesP: Readonly<Record<string, number | null>>;
}

/** One width of a width trend: the treatment − baseline shift of final eval loss at the trend's multiplier. */
export interface WidthPoint {
  readonly task: string;
  readonly dModel: number;
  readonly nBaseline: number;
  readonly nTreatment: number;
  /** Hodges–Lehmann shift with its 95 % interval; null without runs on both sides. */
  readonly shift: HodgesLehmann | null;
  /** The same shift's interval at the Bonferroni share of the slope's confidence (null: the width does not enter the slope). */
  readonly joint: HodgesLehmann | null;
}

/** A trend of the shift against log2(width) over a task's width variants (sub-claim (h), exploratory). */
export interface WidthTrend {
  readonly of: string;
  readonly multiplier: number;
  /** By width, narrowest first; only widths with runs on both sides. */
  readonly points: readonly WidthPoint[];
  /** Least-squares slope of the shifts on log2(dModel), per doubling; null with fewer than 2 widths. */
  readonly slope: number | null;
  /** The slope's interval, projected from the joint per-width intervals (±Infinity when one is unbounded). */
  readonly lo: number;
  readonly hi: number;
  /** Its coverage, at least: the product of the joint intervals' own confidences. */
  readonly confidence: number;
}

/** One optimizer × detector of a positive-control cell: spike rates over every run (seed). */
export interface ControlResult {
  readonly task: string;
  readonly multiplier: number;
  readonly label: string;
  /** The LR it ran at (the experiment's own × the multiplier). */
  readonly lr: number;
  readonly detector: string;
  readonly n: number;
  readonly diverged: number;
  /** Spike events per 1k completed steps, over all runs (median, min, max). */
  readonly spikesPer1k: Summary;
  /** Runs with at least one spike event. */
  readonly withSpike: number;
  /** Final eval loss of the runs that did not diverge (median, min, max): the loss level its spikes came at. */
  readonly finalEvalLoss: Summary | null;
}

/** Study v3's phases as the exploratory sections read them; each list is empty when the study lacks the phase. */
export interface PhaseResults {
  readonly ladder: readonly LadderResult[];
  readonly long: readonly LongResult[];
  readonly width: readonly WidthTrend[];
  readonly control: readonly ControlResult[];
  readonly mechanism: readonly MechanismRow[];
  readonly noise: readonly NoiseRow[];
}

/** The median spike detector against the batch-loss noise in one cell and optimizer (noise_section.ts). */
export interface NoiseRow {
  readonly task: string;
  readonly phase: 'stress' | 'long';
  readonly multiplier: number;
  readonly label: string;
  /** Runs that did not diverge and whose noise was measured. */
  readonly runs: number;
  /** The task's rolling-median detector, and ln(1 + its threshold): the log-rise it flags. */
  readonly detector: string;
  readonly logThreshold: number;
  /** Over runs: the noise σ of the log-rise (digest.ts LossNoise). */
  readonly sigma: Summary;
  /** Over runs: how far the threshold lies above the run's median log-rise, in its σ. */
  readonly thresholdInSigma: Summary;
  /** Over runs: steps per 1k on which Gaussian noise of the run's centre and σ would cross the threshold. */
  readonly gaussianFlagsPer1k: Summary;
  /** Over runs: the largest log-rise above the run's median one, in its σ. */
  readonly maxRiseInSigma: Summary;
  /** The largest log-rise of any run. */
  readonly largestRise: number;
  /** Median over runs of the steps measured. */
  readonly steps: number;
  /** Over runs: the detector's events starting in the last half, per 1k steps. */
  readonly lateSpikesPer1k: Summary;
}

/** Adam's second-moment spike mechanism in one task, phase, optimizer and Adam group (mechanism_section.ts). */
export interface MechanismRow {
  readonly task: string;
  readonly phase: 'stress' | 'long';
  readonly label: string;
  readonly group: string;
  /** Runs that logged the signal. */
  readonly runs: number;
  /** Over runs: each run's mean share of coordinates with g² far below v̂. */
  readonly runMean: Summary;
  /** Spike events with the signal logged before them. */
  readonly events: number;
  /** Over events: the mean share in the window before the event. */
  readonly before: Summary | null;
  /** Over events: that minus its run's mean share. */
  readonly excess: Summary | null;
  /** Events whose share before exceeds their run's mean. */
  readonly above: number;
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
  /** Study v3's phases (stress ladder, long horizon, width trend, positive control): exploratory only. */
  readonly phases: PhaseResults;
}
