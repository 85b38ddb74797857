/**
 * What one cell (cells.ts) contributes, before any test: per optimizer, the medians and rates the
 * report tabulates; per endpoint, the raw per-run values of each side that the statistics compare
 * (compare.ts); and the survival data of time to divergence. Pure functions of the cell's runs.
 */
import type { RunSummary } from '../train/run.js';
import type { ArmName } from './arms.js';
import type { StudyRun } from './collect.js';
import type { Cell } from './cells.js';
import { halfOf, type RunDigest } from './digest.js';
import { failureReason, initialLossOf, type FailureContext, type FailureReason } from './failure.js';
import type { LabelCell, SurvivalCurve } from './results.js';
import { spikesPer1k, summarize, type Summary } from './stats.js';
import { kaplanMeier, logRank, type LogRank, type SurvivalObservation } from './survival.js';

/** Spike comparisons need at least this many non-diverged runs on each side. */
export const MIN_STABLE_RUNS = 2;

/** Spike events of one detector per 1k completed steps, from the run's summary. */
export const spikeRate = (s: RunSummary, detector: string) => spikesPer1k(s.spikes[detector] ?? 0, Math.max(1, s.steps));

/**
 * Spike events of one detector that start in the last half (step > ⌊planned/2⌋), per 1k steps of the
 * last half the run completed; from the run's flagged steps (an event is a run of consecutive
 * steps the detector flagged, as in the summary's count).
 */
export function lateSpikeRate(digest: RunDigest, detector: string, plannedSteps: number): number {
  const half = halfOf(plannedSteps);
  const steps = digest.flagged.filter(([, ds]) => ds.includes(detector)).map(([step]) => step);
  const events = steps.filter((step, i) => step > half && !(i > 0 && steps[i - 1] === step - 1)).length;
  return spikesPer1k(events, Math.max(1, digest.lastStep - half));
}

/** The horizon minus the step a run diverged at; 0 for a run that did not diverge. */
const stepsLostOf = (s: RunSummary) => (s.diverged ? s.plannedSteps - (s.divergedAtStep ?? s.steps) : 0);

/** The survival observation of a run: diverged at a step (event), or censored where it stopped. */
const survivalObs = (s: RunSummary): SurvivalObservation =>
  s.diverged ? { time: s.divergedAtStep ?? s.steps, event: true } : { time: s.steps, event: false };

/**
 * Time to failure of a run for a primary endpoint: an event when the run failed by the study's rule
 * (failure.ts: diverged, or ended at or above its initial loss or k × the best tuned loss) — at the
 * step it diverged, or at its last step for a run that failed without diverging (its loss stayed
 * finite, so the failure is only known at the end) — and censored at its last step otherwise.
 */
export const failureObs = (s: RunSummary, failure: FailureContext): SurvivalObservation =>
  failureReason(s, failure) === null
    ? { time: s.steps, event: false }
    : { time: s.diverged ? (s.divergedAtStep ?? s.steps) : s.steps, event: true };

/** The digests of those runs that have records. */
const digestsOf = (runs: readonly StudyRun[]) => runs.flatMap((r) => (r.digest ? [r.digest] : []));

/** Per optimizer with runs: counts, rates and medians of the cell (baseline, then treatment). */
export function labelCells(cell: Cell, failure: FailureContext, detectors: readonly string[]): Record<string, LabelCell> {
  const entries = Object.entries(cell.runsByLabel).flatMap(([label, runs]): [string, LabelCell][] => {
    if (runs.length === 0) return [];
    const stable = runs.filter((r) => !r.summary.diverged);
    const withRecords = digestsOf(stable);
    const spikes: Record<string, Summary> = {};
    const late: Record<string, Summary> = {};
    if (stable.length > 0) {
      for (const d of detectors) {
        spikes[d] = summarize(stable.map((r) => spikeRate(r.summary, d)));
        if (withRecords.length > 0) late[d] = summarize(withRecords.map((m) => lateSpikeRate(m, d, cell.plannedSteps)));
      }
    }
    // A diverged run's last evaluation predates its blow-up: it is not a final loss.
    const evals = stable.map((r) => r.summary.evalLoss).filter((x): x is number => x !== null && Number.isFinite(x));
    const diverged = runs.filter((r) => r.summary.diverged).length;
    const reasons: Partial<Record<FailureReason, number>> = {};
    for (const r of runs) {
      const why = failureReason(r.summary, failure);
      if (why) reasons[why] = (reasons[why] ?? 0) + 1;
    }
    const failed = Object.values(reasons).reduce((a, x) => a + x, 0);
    return [
      [
        label,
        {
          n: runs.length,
          lr: cell.lrByLabel[label] ?? NaN,
          diverged,
          divergenceRate: diverged / runs.length,
          failed,
          failureRate: failed / runs.length,
          failureReasons: reasons,
          stepsLost: summarize(runs.map((r) => stepsLostOf(r.summary))),
          spikesPer1k: spikes,
          lateSpikesPer1k: late,
          finalEvalLoss: evals.length ? summarize(evals) : null,
        },
      ],
    ];
  });
  return Object.fromEntries(entries);
}

/** Where an endpoint's comparison goes in its cell (StressCell); spike slots are per detector. */
export type EndpointSlot = 'divergence' | 'failure' | 'stepsLost' | 'finalEval' | 'spikes' | 'lateSpikes';

/** One endpoint before any test: the per-run values of each side, treatment − baseline to be compared. */
export interface EndpointSample {
  readonly task: string;
  readonly multiplier: number;
  readonly arm: ArmName;
  /** The name the report and the claim check use, e.g. "late spikes/1k (gradnorm)". */
  readonly metric: string;
  readonly slot: EndpointSlot;
  /** The spike detector of a 'spikes' or 'lateSpikes' slot. */
  readonly detector?: string;
  readonly baseline: readonly number[];
  readonly treatment: readonly number[];
}

/**
 * The endpoints of a cell, in report order: divergence, failure, steps lost, final eval loss, then
 * spikes (whole run, last half) per detector. None when either side has no run.
 */
export function endpointSamples(
  cell: Cell,
  sides: { readonly baseline: string; readonly treatment: string },
  failure: FailureContext,
  detectors: readonly string[],
): EndpointSample[] {
  const base = cell.runsByLabel[sides.baseline] ?? [];
  const treat = cell.runsByLabel[sides.treatment] ?? [];
  if (base.length === 0 || treat.length === 0) return [];
  const at = { task: cell.task, multiplier: cell.multiplier, arm: cell.arm };
  const sample = (slot: EndpointSlot, metric: string, baseline: readonly number[], treatment: readonly number[], detector?: string): EndpointSample => ({
    ...at,
    metric,
    slot,
    ...(detector !== undefined ? { detector } : {}),
    baseline,
    treatment,
  });
  const each = (f: (s: RunSummary) => number) => [base.map((r) => f(r.summary)), treat.map((r) => f(r.summary))] as const;
  const out = [
    sample('divergence', 'divergence rate', ...each((s) => (s.diverged ? 1 : 0))),
    sample('failure', 'failure rate', ...each((s) => (failureReason(s, failure) ? 1 : 0))),
    // Steps lost to divergence: the horizon minus the time to divergence (0 for a run that finished),
    // i.e. the horizon minus the restricted mean survival time; censoring only happens at the horizon.
    sample('stepsLost', 'steps lost to divergence', ...each(stepsLostOf)),
  ];
  // A diverged run has no final loss: it counts as its loss at initialisation, as in tuning
  // (Wortsman et al.'s clipping). A run that ended above its initial loss keeps its own value.
  const finalLoss = (s: RunSummary) => (s.diverged || s.evalLoss === null || !Number.isFinite(s.evalLoss) ? initialLossOf(s) : s.evalLoss);
  const fb = base.map((r) => finalLoss(r.summary));
  const ft = treat.map((r) => finalLoss(r.summary));
  const known = (xs: readonly (number | null)[]): xs is number[] => xs.every((x) => x !== null);
  if (known(fb) && known(ft)) out.push(sample('finalEval', 'final eval loss', fb, ft));

  // Spike rates compare runs that did not diverge: a run that blew up at step 5 has "no spikes",
  // which says nothing about stability; divergence is its own endpoint.
  const stableBase = base.filter((r) => !r.summary.diverged);
  const stableTreat = treat.filter((r) => !r.summary.diverged);
  if (stableBase.length >= MIN_STABLE_RUNS && stableTreat.length >= MIN_STABLE_RUNS) {
    const rate = (rs: readonly StudyRun[], d: string) => rs.map((r) => spikeRate(r.summary, d));
    for (const d of detectors) out.push(sample('spikes', `spikes/1k (${d})`, rate(stableBase, d), rate(stableTreat, d), d));
    const mb = digestsOf(stableBase);
    const mt = digestsOf(stableTreat);
    if (mb.length >= MIN_STABLE_RUNS && mt.length >= MIN_STABLE_RUNS) {
      const late = (ms: readonly RunDigest[], d: string) => ms.map((m) => lateSpikeRate(m, d, cell.plannedSteps));
      for (const d of detectors) out.push(sample('lateSpikes', `late spikes/1k (${d})`, late(mb, d), late(mt, d), d));
    }
  }
  return out;
}

/** Time to divergence of both sides of a cell, before the log-rank test gets its Holm p with the family. */
export interface SurvivalSample {
  readonly byLabel: Readonly<Record<string, SurvivalCurve>>;
  readonly logRank: LogRank;
}

/** Kaplan–Meier curves of each side and the log-rank test; none when either side has no run. */
export function survivalSample(cell: Cell, sides: { readonly baseline: string; readonly treatment: string }): SurvivalSample | undefined {
  const base = cell.runsByLabel[sides.baseline] ?? [];
  const treat = cell.runsByLabel[sides.treatment] ?? [];
  if (base.length === 0 || treat.length === 0) return undefined;
  const km = (rs: readonly StudyRun[]): SurvivalCurve => {
    const fit = kaplanMeier(rs.map((r) => survivalObs(r.summary)));
    return { n: fit.n, events: fit.events, median: fit.median, steps: fit.steps };
  };
  return {
    byLabel: { [sides.baseline]: km(base), [sides.treatment]: km(treat) },
    logRank: logRank(base.map((r) => survivalObs(r.summary)), treat.map((r) => survivalObs(r.summary))),
  };
}
