/**
 * Per-step signals of a cell's runs over time, from their records: the growth of each signal over
 * the last half (log-slope per 1k steps), the median training-loss curve, and MoE balance by tenths
 * of the horizon. Descriptive: none of these enters the family of tests.
 */
import type { StepRecord } from '../train/loop.js';
import type { StudyRun } from './collect.js';
import type { Cell } from './cells.js';
import { halfOf } from './endpoints.js';
import type { BalanceTrace, GrowthRow, MedianCurve } from './results.js';
import { logSlope, medianPerIndex, summarize } from './stats.js';

/** A run's signal growth needs this many usable points in its last half. */
export const MIN_GROWTH_POINTS = 5;
/**
 * Per-step signals whose growth over the last half is reported, in this order, when a task's runs
 * record them: the LM's attention and output logits and the MoE router's, and the
 * gradient norm (every task).
 */
export const GROWTH_SIGNALS = ['maxAttnLogit', 'outputLogZ', 'routerMaxLogit', 'gradNorm'] as const;
/** Per-step MoE signals whose tenths make the balance traces. */
export const BALANCE_SIGNALS = ['maxVio', 'routerMaxLogit', 'deadExperts'] as const;

/** A named numeric field of a record, NaN where the record lacks it. */
const signalOf = (x: StepRecord, signal: string): number => {
  const v = (x as unknown as Record<string, unknown>)[signal];
  return typeof v === 'number' ? v : NaN;
};

/** Signals (GROWTH_SIGNALS) with a positive finite value somewhere in these runs' records. */
export function signalsIn(runs: readonly StudyRun[]): string[] {
  return GROWTH_SIGNALS.filter((sig) => runs.some((r) => (r.metrics ?? []).some((x) => signalOf(x, sig) > 0)));
}

/** Growth rows of one cell: for each signal and each of the cell's own labels, the per-run log-slopes over the last half. */
export function growthOf(cell: Cell, signals: readonly string[]): GrowthRow[] {
  const half = halfOf(cell.plannedSteps);
  return signals.flatMap((signal) =>
    cell.ownLabels.map((label): GrowthRow => {
      const slopes = (cell.runsByLabel[label] ?? []).flatMap((r) => {
        if (!r.metrics) return [];
        const late = r.metrics.filter((x) => x.step > half);
        const fit = logSlope(
          late.map((x) => x.step),
          late.map((x) => signalOf(x, signal)),
        );
        return fit && fit.n >= MIN_GROWTH_POINTS ? [fit.slope * 1000] : [];
      });
      return {
        task: cell.task,
        arm: cell.arm,
        label,
        multiplier: cell.multiplier,
        signal,
        slopePer1k: slopes.length ? summarize(slopes) : null,
        runs: slopes.length,
      };
    }),
  );
}

/**
 * Mean of a per-step series over each of `parts` equal slices of the planned horizon (value i is
 * step i + 1). Slices a run never reached (it diverged) are NaN, so runs of different lengths line up.
 */
function slices(values: readonly number[], parts: number, plannedSteps = values.length): number[] {
  const out: number[] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * plannedSteps) / parts);
    const b = Math.max(a + 1, Math.floor(((i + 1) * plannedSteps) / parts));
    const xs = values.slice(a, b).filter(Number.isFinite);
    out.push(xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  }
  return out;
}

/** One label's runs of a stress cell over time: its median loss curve and (MoE) its balance trace. */
export interface LabelOverTime {
  readonly label: string;
  readonly curve: MedianCurve;
  readonly balance?: BalanceTrace;
}

/** Per label with records: the median training-loss curve, and the MoE balance by tenths when `moe`. */
export function overTime(cell: Cell, moe: boolean): LabelOverTime[] {
  return Object.entries(cell.runsByLabel).flatMap(([label, runs]): LabelOverTime[] => {
    const metrics = runs.flatMap((r) => (r.metrics ? [r.metrics] : []));
    if (metrics.length === 0) return [];
    const curve: MedianCurve = {
      values: medianPerIndex(metrics.map((m) => m.map((r) => (r.loss === null ? NaN : r.loss)))),
      diverged: runs.filter((r) => r.summary.diverged).length,
      n: metrics.length,
    };
    if (!moe) return [{ label, curve }];
    const trace = (key: (typeof BALANCE_SIGNALS)[number]) =>
      medianPerIndex(metrics.map((m) => slices(m.map((r) => (typeof r[key] === 'number' ? r[key]! : NaN)), 10, cell.plannedSteps)));
    const logits = trace('routerMaxLogit');
    const balance: BalanceTrace = {
      maxVio: trace('maxVio'),
      routerMaxLogit: logits,
      deadExperts: trace('deadExperts'),
      logitGrowth: logits[logits.length - 1]! / logits[0]!,
    };
    return [{ label, curve, balance }];
  });
}
