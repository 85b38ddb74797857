/**
 * Study analysis: from a study folder's files to numbers. Tuned LRs and LR sensitivity from the
 * tuning runs; per task, multiplier and arm: median/IQR of spikes per 1k steps (whole run and last
 * half), divergence and failure rates, final eval loss; each treatment − baseline difference with a
 * bootstrap 95% CI, a family-wise (Bonferroni-level) interval, Mann–Whitney's P(treatment better)
 * and its raw and Holm-adjusted p-value; time to divergence (Kaplan–Meier, log-rank); growth of
 * per-step signals over the last half; MoE balance over time; and verdicts that follow from the
 * family-wise intervals alone. Deterministic: every bootstrap is seeded by its endpoint's identity,
 * so sharded-then-merged studies report the same numbers as unsharded ones.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentSpec } from '../train/config.js';
import type { StepRecord } from '../train/loop.js';
import type { RunSummary } from '../train/run.js';
import { METRICS_FILE, readJSON, readMetrics } from '../train/run_files.js';
import { loadSummary as loadCheckedSummary, warnToStderr } from '../train/run_readers.js';
import { armLabels, armNeeds, type ArmName } from './arms.js';
import { armMultipliers, FAILURE_LOSS_FACTOR, failureReason, firstFailure, initialLossOf, type FailureContext, type FailureReason } from './failure.js';
import { planArm, planTuning, stressStepsOf, type StudySpec, type StudyTask } from './protocol.js';
import { RUNS_DIR, STUDY_FILE, runnableArms, taskModel, taskModelKind, type StudyFile } from './study.js';
import {
  bonferroniConfidence,
  bootstrapDiffCI,
  FAMILY_ALPHA,
  holm,
  logSlope,
  lrSensitivity,
  mannWhitney,
  median,
  medianPerIndex,
  spikesPer1k,
  summarize,
  type Summary,
} from './stats.js';
import { kaplanMeier, logRank, type KaplanMeierStep, type LogRank, type SurvivalObservation } from './survival.js';
import { chooseTunedLr } from './tuning.js';

/** Seed of every bootstrap in a report, so reports are reproducible to the digit. */
export const BOOTSTRAP_SEED = 20231012;
export const BOOTSTRAP_RESAMPLES = 10_000;
/**
 * The family-wise intervals sit at the α/(2m) quantiles of the resampled differences; this many
 * resamples are expected beyond each end, so those quantiles are not set by one or two draws.
 */
export const ADJUSTED_TAIL_RESAMPLES = 10;

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
  readonly failureReasons: Partial<Record<FailureReason, number>>;
  /** Horizon minus the step the run diverged at (0 if it did not), over every run. */
  readonly stepsLost: Summary;
  readonly spikesPer1k: Record<string, Summary>;
  /** Spike events that start in the second half of the horizon, per 1k steps of that half. */
  readonly lateSpikesPer1k: Record<string, Summary>;
  readonly finalEvalLoss: Summary | null;
}

export interface SurvivalCell {
  /** Per label: the Kaplan–Meier curve of time to divergence. */
  readonly byLabel: Record<string, { n: number; events: number; median: number | null; steps: readonly KaplanMeierStep[] }>;
  readonly logRank: LogRank & { readonly pHolm: number };
}

export interface StressCell {
  readonly task: string;
  readonly multiplier: number;
  /** 'none' for the stress runs. */
  readonly arm: ArmName;
  readonly byLabel: Record<string, LabelCell>;
  /** Missing when either side has no finished run. */
  readonly divergence?: Comparison;
  readonly failure?: Comparison;
  readonly finalEval?: Comparison;
  readonly stepsLost?: Comparison;
  readonly spikes: Record<string, Comparison>;
  readonly lateSpikes: Record<string, Comparison>;
  readonly survival?: SurvivalCell;
}

export interface TuningResult {
  readonly grid: { lr: number; medianEvalLoss: number; diverged: number; n: number }[];
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
  readonly maxVio: number[];
  readonly routerMaxLogit: number[];
  readonly deadExperts: number[];
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

export type VerdictKind = 'supported' | 'contradicted' | 'inconclusive';

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
  readonly firstFailure: Record<string, number | null>;
  readonly needs?: string;
}

export interface StudyResults {
  readonly spec: StudySpec;
  readonly experiments: Record<string, ExperimentSpec>;
  readonly runsFound: number;
  /** Backends the runs were computed on (one, unless shards were run on different machines). */
  readonly backends: string[];
  readonly runsExpected: number;
  readonly missing: string[];
  readonly tuning: Record<string, Record<string, TuningResult>>;
  /** The stress cells (arm 'none'), task → multiplier order. */
  readonly stress: StressCell[];
  /** The arm cells, task → arm → multiplier order. */
  readonly armCells: StressCell[];
  readonly arms: ArmStatus[];
  /** k of the failed endpoint. */
  readonly failureLossFactor: number;
  /** task → the best tuned loss the failed endpoint scales by k. */
  readonly bestTunedLoss: Record<string, number>;
  /** task → label → multiplier → trace (MoE tasks only). */
  readonly balance: Record<string, Record<string, Record<string, BalanceTrace>>>;
  readonly growth: GrowthRow[];
  readonly endpoints: Endpoint[];
  /** Confidence of the family-wise intervals, 1 − α/m. */
  readonly familyConfidence: number;
  readonly verdict: VerdictKind;
  readonly detectors: string[];
  /** Representative curves: task → multiplier → label → median loss per step, and how many runs diverged. */
  readonly curves: Record<string, Record<string, Record<string, { values: number[]; diverged: number; n: number }>>>;
}

interface LoadedStudyRun {
  readonly summary: RunSummary;
  readonly dir: string;
  metrics?: StepRecord[];
}

/** A run's summary; a damaged one is reported (one warning) and the run counted as missing. */
function loadSummary(dir: string): RunSummary | undefined {
  return loadCheckedSummary(dir, warnToStderr, 'counted as missing; rerun the study command to redo it');
}

/** A run's metrics, read once; undefined when the file is missing. */
function metricsOf(r: LoadedStudyRun): StepRecord[] | undefined {
  if (r.metrics) return r.metrics;
  const path = join(r.dir, METRICS_FILE);
  if (!existsSync(path)) return undefined;
  try {
    r.metrics = readMetrics<StepRecord>(path);
  } catch (e) {
    warnToStderr(`${(e as Error).message}; its curves are left out`);
    return undefined;
  }
  return r.metrics;
}

/** FNV-1a of an endpoint's identity: its bootstrap seed does not depend on which endpoints came before. */
function seedOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ BOOTSTRAP_SEED) >>> 0;
}

/** A comparison whose family-wise interval and Holm p are filled in once the family is known. */
interface Pending {
  readonly comparison: Comparison;
  readonly baseline: readonly number[];
  readonly treatment: readonly number[];
  readonly seed: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const constant = (xs: readonly number[]) => xs.every((x) => x === xs[0]);

function bootstrap(baseline: readonly number[], treatment: readonly number[], seed: number, confidence: number, resamples: number) {
  // Constant samples have one possible resample: the interval is the estimate (and needs no draws).
  if (constant(baseline) && constant(treatment)) {
    const d = treatment[0]! - baseline[0]!;
    return { estimate: d, lo: d, hi: d };
  }
  return bootstrapDiffCI(treatment, baseline, { statistic: mean, resamples, seed, confidence });
}

function compare(baseline: readonly number[], treatment: readonly number[], id: string, pending: Pending[]): Comparison {
  const seed = seedOf(id);
  const ci = bootstrap(baseline, treatment, seed, 0.95, BOOTSTRAP_RESAMPLES);
  const mw = mannWhitney(baseline, treatment);
  const comparison: Comparison = {
    estimate: ci.estimate,
    lo: ci.lo,
    hi: ci.hi,
    adjLo: NaN,
    adjHi: NaN,
    probTreatmentBetter: mw.probAGreater,
    pValue: mw.pValue,
    pHolm: NaN,
    nBaseline: baseline.length,
    nTreatment: treatment.length,
  };
  pending.push({ comparison, baseline, treatment, seed });
  return comparison;
}

/** Spike comparisons need at least this many non-diverged runs on each side. */
export const MIN_STABLE_RUNS = 2;
/** A run's signal growth needs this many usable points in its last half. */
export const MIN_GROWTH_POINTS = 5;
/**
 * Per-step signals whose growth over the last half is reported, in this order, when a task's runs
 * record them: the LM's attention and output logits and the MoE router's, and the
 * gradient norm (every task).
 */
export const GROWTH_SIGNALS = ['maxAttnLogit', 'outputLogZ', 'routerMaxLogit', 'gradNorm'] as const;

const spikeRate = (s: RunSummary, detector: string) => spikesPer1k(s.spikes[detector] ?? 0, Math.max(1, s.steps));

/** First step of the "last half" of a horizon: steps > this one. */
export const halfOf = (plannedSteps: number) => Math.floor(plannedSteps / 2);

/**
 * Spike events of one detector that start in the last half (step > ⌊planned/2⌋), per 1k steps of the
 * last half the run completed; from metrics.jsonl, where each record lists the detectors that
 * flagged it (an event is a run of consecutive flagged steps, as in the summary's count).
 */
export function lateSpikeRate(records: readonly StepRecord[], detector: string, plannedSteps: number): number {
  const half = halfOf(plannedSteps);
  let events = 0;
  let prevFlagged = false;
  let prevStep = -1;
  let lastStep = 0;
  for (const r of records) {
    const flagged = r.spikes?.includes(detector) === true;
    if (flagged && r.step > half && !(prevFlagged && prevStep === r.step - 1)) events++;
    prevFlagged = flagged;
    prevStep = r.step;
    lastStep = Math.max(lastStep, r.step);
  }
  return spikesPer1k(events, Math.max(1, lastStep - half));
}

function favours(c: Comparison): Endpoint['favours'] {
  if (c.adjHi < 0) return 'treatment';
  if (c.adjLo > 0) return 'baseline';
  return null;
}

/**
 * Mean of a per-step series over each of `parts` equal slices of the planned horizon (value i is
 * step i + 1). Slices a run never reached (it diverged) are NaN, so runs of different lengths line up.
 */
export function slices(values: readonly number[], parts: number, plannedSteps = values.length): number[] {
  const out: number[] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * plannedSteps) / parts);
    const b = Math.max(a + 1, Math.floor(((i + 1) * plannedSteps) / parts));
    const xs = values.slice(a, b).filter(Number.isFinite);
    out.push(xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  }
  return out;
}

/** The verdict follows mechanically from the family-wise intervals: see `favours`. */
export function verdictFrom(endpoints: readonly Pick<Endpoint, 'favours'>[]): VerdictKind {
  const forTreatment = endpoints.some((e) => e.favours === 'treatment');
  const forBaseline = endpoints.some((e) => e.favours === 'baseline');
  if (forTreatment && !forBaseline) return 'supported';
  if (forBaseline && !forTreatment) return 'contradicted';
  return 'inconclusive';
}

const fmtM = (m: number) => Number(m.toPrecision(3)).toString();

/** The survival observation of a run: diverged at a step (event), or censored where it stopped. */
const survivalObs = (s: RunSummary): SurvivalObservation =>
  s.diverged ? { time: s.divergedAtStep ?? s.steps, event: true } : { time: s.steps, event: false };

interface CellInput {
  readonly task: string;
  readonly multiplier: number;
  readonly arm: ArmName;
  readonly plannedSteps: number;
  readonly runsByLabel: Record<string, LoadedStudyRun[]>;
  readonly lrByLabel: Record<string, number>;
}

interface Collect {
  readonly spec: StudySpec;
  readonly pending: Pending[];
  readonly endpoints: Omit<Endpoint, 'favours'>[];
  readonly logRanks: { survival: SurvivalCell; set(p: number): void }[];
  readonly detectors: Set<string>;
  readonly ctx: FailureContext;
}

/** One cell (task × multiplier × arm): per-label numbers, the comparisons, the survival analysis. */
function analyzeCell(input: CellInput, c: Collect): StressCell {
  const { baseline: b, treatment: t } = c.spec;
  const byLabel: Record<string, LabelCell> = {};
  for (const [label, runs] of Object.entries(input.runsByLabel)) {
    if (runs.length === 0) continue;
    for (const r of runs) for (const d of Object.keys(r.summary.spikes)) c.detectors.add(d);
    const stable = runs.filter((r) => !r.summary.diverged);
    const spikes: Record<string, Summary> = {};
    const late: Record<string, Summary> = {};
    for (const d of c.detectors) {
      if (stable.length === 0) continue;
      spikes[d] = summarize(stable.map((r) => spikeRate(r.summary, d)));
      const lates = stable.map((r) => metricsOf(r)).filter((m): m is StepRecord[] => m !== undefined);
      if (lates.length > 0) late[d] = summarize(lates.map((m) => lateSpikeRate(m, d, input.plannedSteps)));
    }
    // A diverged run's last evaluation predates its blow-up: it is not a final loss.
    const evals = stable.map((r) => r.summary.evalLoss).filter((x): x is number => x !== null && Number.isFinite(x));
    const diverged = runs.filter((r) => r.summary.diverged).length;
    const reasons: Partial<Record<FailureReason, number>> = {};
    for (const r of runs) {
      const why = failureReason(r.summary, c.ctx);
      if (why) reasons[why] = (reasons[why] ?? 0) + 1;
    }
    const failed = Object.values(reasons).reduce((a, x) => a + x, 0);
    byLabel[label] = {
      n: runs.length,
      lr: input.lrByLabel[label] ?? NaN,
      diverged,
      divergenceRate: diverged / runs.length,
      failed,
      failureRate: failed / runs.length,
      failureReasons: reasons,
      stepsLost: summarize(runs.map((r) => stepsLostOf(r.summary))),
      spikesPer1k: spikes,
      lateSpikesPer1k: late,
      finalEvalLoss: evals.length ? summarize(evals) : null,
    };
  }
  const cell: StressCell = { task: input.task, multiplier: input.multiplier, arm: input.arm, byLabel, spikes: {}, lateSpikes: {} };
  const base = input.runsByLabel[b] ?? [];
  const treat = input.runsByLabel[t] ?? [];
  if (base.length === 0 || treat.length === 0) return cell;
  const id = (metric: string) => `${input.task}\u0000${input.arm}\u0000${fmtM(input.multiplier)}\u0000${metric}`;
  const add = (metric: string, baseline: number[], treatment: number[]): Comparison => {
    const comparison = compare(baseline, treatment, id(metric), c.pending);
    c.endpoints.push({ task: input.task, multiplier: input.multiplier, arm: input.arm, metric, comparison });
    return comparison;
  };
  const mutable = cell as { -readonly [K in keyof StressCell]: StressCell[K] };
  mutable.divergence = add('divergence rate', ...pair(base, treat, (s) => (s.diverged ? 1 : 0)));
  mutable.failure = add('failure rate', ...pair(base, treat, (s) => (failureReason(s, c.ctx) ? 1 : 0)));
  // Steps lost to divergence: the horizon minus the time to divergence (0 for a run that finished),
  // i.e. the horizon minus the restricted mean survival time; censoring only happens at the horizon.
  mutable.stepsLost = add('steps lost to divergence', ...pair(base, treat, stepsLostOf));
  // A diverged run has no final loss: it counts as its loss at initialisation, as in tuning
  // (Wortsman et al.'s clipping). A run that ended above its initial loss keeps its own value.
  const finalLoss = (s: RunSummary) => (s.diverged || s.evalLoss === null || !Number.isFinite(s.evalLoss) ? initialLossOf(s) : s.evalLoss);
  const fb = base.map((r) => finalLoss(r.summary));
  const ft = treat.map((r) => finalLoss(r.summary));
  if (fb.every((x) => x !== null) && ft.every((x) => x !== null)) mutable.finalEval = add('final eval loss', fb as number[], ft as number[]);

  // Spike rates compare runs that did not diverge: a run that blew up at step 5 has "no spikes",
  // which says nothing about stability; divergence is its own endpoint.
  const stableBase = base.filter((r) => !r.summary.diverged);
  const stableTreat = treat.filter((r) => !r.summary.diverged);
  if (stableBase.length >= MIN_STABLE_RUNS && stableTreat.length >= MIN_STABLE_RUNS) {
    for (const d of [...c.detectors].sort()) {
      const rate = (rs: LoadedStudyRun[]) => rs.map((r) => spikeRate(r.summary, d));
      cell.spikes[d] = add(`spikes/1k (${d})`, rate(stableBase), rate(stableTreat));
    }
    const withMetrics = (rs: LoadedStudyRun[]) => rs.map((r) => metricsOf(r)).filter((m): m is StepRecord[] => m !== undefined);
    const mb = withMetrics(stableBase);
    const mt = withMetrics(stableTreat);
    if (mb.length >= MIN_STABLE_RUNS && mt.length >= MIN_STABLE_RUNS) {
      for (const d of [...c.detectors].sort()) {
        const late = (ms: StepRecord[][]) => ms.map((m) => lateSpikeRate(m, d, input.plannedSteps));
        cell.lateSpikes[d] = add(`late spikes/1k (${d})`, late(mb), late(mt));
      }
    }
  }

  const km = (rs: LoadedStudyRun[]) => {
    const fit = kaplanMeier(rs.map((r) => survivalObs(r.summary)));
    return { n: fit.n, events: fit.events, median: fit.median, steps: fit.steps };
  };
  const lr = logRank(base.map((r) => survivalObs(r.summary)), treat.map((r) => survivalObs(r.summary)));
  const survival: SurvivalCell = { byLabel: { [b]: km(base), [t]: km(treat) }, logRank: { ...lr, pHolm: NaN } };
  mutable.survival = survival;
  c.logRanks.push({ survival, set: (p) => ((survival.logRank as { pHolm: number }).pHolm = p) });
  return cell;
}

/** The horizon minus the step a run diverged at; 0 for a run that did not diverge. */
const stepsLostOf = (s: RunSummary) => (s.diverged ? s.plannedSteps - (s.divergedAtStep ?? s.steps) : 0);

function pair(base: LoadedStudyRun[], treat: LoadedStudyRun[], f: (s: RunSummary) => number): [number[], number[]] {
  return [base.map((r) => f(r.summary)), treat.map((r) => f(r.summary))];
}

/** Growth rows of one cell: for each signal the task records, the per-run log-slopes over the last half. */
function growthOf(input: CellInput, signals: readonly string[]): GrowthRow[] {
  const rows: GrowthRow[] = [];
  const half = halfOf(input.plannedSteps);
  for (const signal of signals) {
    for (const [label, runs] of Object.entries(input.runsByLabel)) {
      const slopes: number[] = [];
      for (const r of runs) {
        const m = metricsOf(r);
        if (!m) continue;
        const late = m.filter((x) => x.step > half);
        const fit = logSlope(
          late.map((x) => x.step),
          late.map((x) => {
            const v = (x as unknown as Record<string, unknown>)[signal];
            return typeof v === 'number' ? v : NaN;
          }),
        );
        if (fit && fit.n >= MIN_GROWTH_POINTS) slopes.push(fit.slope * 1000);
      }
      rows.push({
        task: input.task,
        arm: input.arm,
        label,
        multiplier: input.multiplier,
        signal,
        slopePer1k: slopes.length ? summarize(slopes) : null,
        runs: slopes.length,
      });
    }
  }
  return rows;
}

/** Signals (GROWTH_SIGNALS) with a positive finite value somewhere in these runs' metrics. */
function signalsIn(runs: readonly LoadedStudyRun[]): string[] {
  return GROWTH_SIGNALS.filter((sig) =>
    runs.some((r) =>
      (metricsOf(r) ?? []).some((x) => {
        const v = (x as unknown as Record<string, unknown>)[sig];
        return typeof v === 'number' && v > 0;
      }),
    ),
  );
}

export function analyzeStudy(dir: string): StudyResults {
  const studyPath = join(dir, STUDY_FILE);
  if (!existsSync(studyPath)) throw new Error(`${dir}: no ${STUDY_FILE}; is this a study folder?`);
  const file = readJSON<StudyFile>(studyPath);
  const spec = file.spec;
  const experiments = new Map(Object.entries(file.experiments));
  const labels = [spec.baseline, spec.treatment];
  const runsDir = join(dir, RUNS_DIR);
  const missing: string[] = [];
  const backends = new Set<string>();
  let found = 0;
  let expected = 0;
  const load = (name: string): LoadedStudyRun | undefined => {
    expected++;
    const summary = loadSummary(join(runsDir, name));
    if (!summary) {
      missing.push(name);
      return undefined;
    }
    found++;
    backends.add(summary.backend);
    return { summary, dir: join(runsDir, name) };
  };

  // ---- tuning
  const tuningPlan = planTuning(spec, experiments);
  const tuning: StudyResults['tuning'] = {};
  for (const task of spec.tasks) {
    const taskRuns = tuningPlan.filter((p) => p.task === task.experiment);
    const loaded = taskRuns.map((p) => ({ p, summary: load(p.dirName)?.summary }));
    const initials = loaded.map((l) => l.summary?.initialLoss).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (initials.length === 0) continue;
    const initialLoss = median(initials);
    tuning[task.experiment] = {};
    for (const label of labels) {
      const mine = loaded.filter((l) => l.p.label === label && l.summary);
      if (mine.length === 0) continue;
      const results = mine.map((l) => ({ lr: l.p.lr, summary: l.summary! }));
      const choice = chooseTunedLr(results);
      const grid = choice.grid.map(({ lr, score, n, diverged }) => ({ lr, medianEvalLoss: score, diverged, n }));
      const sens = lrSensitivity(
        grid.map((g) => ({ lr: g.lr, finalLoss: g.medianEvalLoss, diverged: false })),
        initialLoss,
      );
      tuning[task.experiment]![label] = {
        grid,
        tunedLr: choice.tuned.lr,
        bestScoringLr: choice.best.lr,
        noEligibleLr: choice.noEligibleLr,
        sensitivity: sens.sensitivity,
        bestLoss: sens.best,
        initialLoss,
      };
    }
  }
  const failureLossFactor = spec.failureLossFactor ?? FAILURE_LOSS_FACTOR;
  const bestTunedLoss: Record<string, number> = {};
  for (const [task, byLabel] of Object.entries(tuning)) {
    const scores = Object.values(byLabel).map((t) => t.grid.find((g) => g.lr === t.tunedLr)?.medianEvalLoss ?? Infinity);
    bestTunedLoss[task] = Math.min(...scores);
  }

  // ---- stress and arms
  const stress: StressCell[] = [];
  const armCells: StressCell[] = [];
  const arms: ArmStatus[] = [];
  const detectors = new Set<string>();
  const balance: StudyResults['balance'] = {};
  const curves: StudyResults['curves'] = {};
  const growth: GrowthRow[] = [];
  const pending: Pending[] = [];
  const rawEndpoints: Omit<Endpoint, 'favours'>[] = [];
  const logRanks: Collect['logRanks'] = [];
  for (const task of spec.tasks) {
    const ctx: FailureContext = { bestTunedLoss: bestTunedLoss[task.experiment] ?? Infinity, lossFactor: failureLossFactor };
    const c: Collect = { spec, pending, endpoints: rawEndpoints, logRanks, detectors, ctx };
    const plannedSteps = stressStepsOf(spec, task);
    const tunedOf = (label: string) => tuning[task.experiment]?.[label]?.tunedLr;
    const stressRuns = new Map<string, LoadedStudyRun[]>(); // label\0multiplier → runs
    for (const multiplier of spec.stress.multipliers) {
      for (const label of labels) {
        const runs: LoadedStudyRun[] = [];
        for (const seed of spec.seeds) {
          const r = load(`stress__${task.experiment}__${label}__x${fmtM(multiplier)}__s${seed}`);
          if (r) runs.push(r);
        }
        stressRuns.set(`${label}\u0000${multiplier}`, runs);
      }
    }
    const signals = signalsIn([...stressRuns.values()].flat());
    for (const multiplier of spec.stress.multipliers) {
      const runsByLabel = Object.fromEntries(labels.map((l) => [l, stressRuns.get(`${l}\u0000${multiplier}`)!]));
      const lrByLabel = Object.fromEntries(labels.map((l) => [l, (tunedOf(l) ?? NaN) * multiplier]));
      const input: CellInput = { task: task.experiment, multiplier, arm: 'none', plannedSteps, runsByLabel, lrByLabel };
      stress.push(analyzeCell(input, c));
      growth.push(...growthOf(input, signals));
      curvesAndBalance(task, multiplier, runsByLabel, plannedSteps, experiments, curves, balance);
    }
    arms.push(...analyzeArms(task, spec, experiments, stressRuns, tunedOf, c, load, armCells, growth, signals, plannedSteps));
  }

  // ---- multiplicity: Holm over every test, family-wise intervals over the endpoints
  const m = pending.length;
  const familyConfidence = bonferroniConfidence(m, FAMILY_ALPHA);
  const adjustedResamples = Math.max(BOOTSTRAP_RESAMPLES, Math.ceil((ADJUSTED_TAIL_RESAMPLES * 2 * Math.max(1, m)) / FAMILY_ALPHA));
  const adjustedP = holm([...pending.map((p) => p.comparison.pValue), ...logRanks.map((l) => l.survival.logRank.pValue)]);
  pending.forEach((p, i) => {
    const adj = bootstrap(p.baseline, p.treatment, p.seed, familyConfidence, adjustedResamples);
    Object.assign(p.comparison as { adjLo: number; adjHi: number; pHolm: number }, { adjLo: adj.lo, adjHi: adj.hi, pHolm: adjustedP[i]! });
  });
  logRanks.forEach((l, i) => l.set(adjustedP[m + i]!));
  const endpoints: Endpoint[] = rawEndpoints.map((e) => ({ ...e, favours: favours(e.comparison) }));

  return {
    spec,
    experiments: file.experiments,
    runsFound: found,
    backends: [...backends].sort(),
    runsExpected: expected,
    missing,
    tuning,
    stress,
    armCells,
    arms,
    failureLossFactor,
    bestTunedLoss,
    balance,
    growth,
    endpoints,
    familyConfidence,
    verdict: verdictFrom(endpoints),
    detectors: [...detectors].sort(),
    curves,
  };
}

/** The arms of one task: where they ran (from the stress results, as the study placed them) and their cells. */
function analyzeArms(
  task: StudyTask,
  spec: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  stressRuns: ReadonlyMap<string, LoadedStudyRun[]>,
  tunedOf: (label: string) => number | undefined,
  c: Collect,
  load: (name: string) => LoadedStudyRun | undefined,
  armCells: StressCell[],
  growth: GrowthRow[],
  signals: readonly string[],
  plannedSteps: number,
): ArmStatus[] {
  const out: ArmStatus[] = [];
  const listed = (task.arms ?? []).filter((a) => a !== 'none');
  if (listed.length === 0) return out;
  const labels = [spec.baseline, spec.treatment];
  const firsts: Record<string, number | null> = {};
  for (const label of labels) {
    const byM = new Map(spec.stress.multipliers.map((m) => [m, (stressRuns.get(`${label}\u0000${m}`) ?? []).map((r) => r.summary)]));
    firsts[label] = firstFailure(byM, c.ctx);
  }
  const multipliers = armMultipliers(Object.values(firsts), spec.stress.multipliers);
  const runnable = new Set(runnableArms(task, experiments));
  const tb = tunedOf(spec.baseline);
  const tt = tunedOf(spec.treatment);
  for (const arm of listed) {
    if (!runnable.has(arm)) {
      out.push({ task: task.experiment, arm, multipliers: [], firstFailure: firsts, needs: armNeeds(arm, taskModelKind(task, experiments))! });
      continue;
    }
    out.push({ task: task.experiment, arm, multipliers, firstFailure: firsts });
    if (tb === undefined || tt === undefined) continue;
    const armOf = armLabels(arm, spec.baseline, spec.treatment);
    for (const multiplier of multipliers) {
      const runsByLabel: Record<string, LoadedStudyRun[]> = {};
      const lrByLabel: Record<string, number> = {};
      for (const label of labels) {
        if (armOf.includes(label)) {
          const planned = planArm(spec, experiments, task, arm, label, { baseline: tb, treatment: tt }, [multiplier]);
          runsByLabel[label] = planned.map((p) => load(p.dirName)).filter((r): r is LoadedStudyRun => r !== undefined);
          lrByLabel[label] = planned[0]?.lr ?? NaN;
        } else {
          // An arm of the treatment alone is compared with the baseline's stress runs at the same multiplier.
          runsByLabel[label] = stressRuns.get(`${label}\u0000${multiplier}`) ?? [];
          lrByLabel[label] = (tunedOf(label) ?? NaN) * multiplier;
        }
      }
      const input: CellInput = { task: task.experiment, multiplier, arm, plannedSteps, runsByLabel, lrByLabel };
      armCells.push(analyzeCell(input, c));
      growth.push(...growthOf({ ...input, runsByLabel: Object.fromEntries(armOf.map((l) => [l, runsByLabel[l]!])) }, signals));
    }
  }
  return out;
}

function curvesAndBalance(
  task: StudyTask,
  multiplier: number,
  runsByLabel: Record<string, LoadedStudyRun[]>,
  plannedSteps: number,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  curves: StudyResults['curves'],
  balance: StudyResults['balance'],
): void {
  // Curves and MoE balance over time, from the metrics files.
  // MoE balance: the MoE tasks and a transformer with MoE FFNs (its signals are the worst block's).
  const model = taskModel(task, experiments);
  const isMoe = model?.kind === 'moe' || (model?.kind === 'transformer' && model.ffn === 'moe');
  for (const [label, runs] of Object.entries(runsByLabel)) {
    const metrics = runs.map((r) => metricsOf(r)).filter((m): m is StepRecord[] => m !== undefined);
    if (metrics.length === 0) continue;
    ((curves[task.experiment] ??= {})[fmtM(multiplier)] ??= {})[label] = {
      values: medianPerIndex(metrics.map((m) => m.map((r) => (r.loss === null ? NaN : r.loss)))),
      diverged: runs.filter((r) => r.summary.diverged).length,
      n: metrics.length,
    };
    if (isMoe) {
      const trace = (key: 'maxVio' | 'routerMaxLogit' | 'deadExperts') =>
        medianPerIndex(metrics.map((m) => slices(m.map((r) => (typeof r[key] === 'number' ? r[key]! : NaN)), 10, plannedSteps)));
      const logits = trace('routerMaxLogit');
      ((balance[task.experiment] ??= {})[label] ??= {})[fmtM(multiplier)] = {
        maxVio: trace('maxVio'),
        routerMaxLogit: logits,
        deadExperts: trace('deadExperts'),
        logitGrowth: logits[logits.length - 1]! / logits[0]!,
      };
    }
  }
}
