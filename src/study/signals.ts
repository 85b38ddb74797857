/**
 * Per-step signals of a cell's runs over time, from their digests (digest.ts): the growth of each
 * signal over the last half (log-slope per 1k steps), the median training-loss curve, and MoE
 * balance by tenths of the horizon. Descriptive: none of these enters the family of tests.
 */
import type { StudyRun } from './collect.js';
import type { Cell } from './cells.js';
import { BALANCE_SIGNALS, GROWTH_SIGNALS } from './digest.js';
import type { BalanceTrace, GrowthRow, MedianCurve } from './results.js';
import { medianPerIndex, summarize } from './stats.js';

/** Signals (GROWTH_SIGNALS) with a positive finite value somewhere in these runs' records. */
export function signalsIn(runs: readonly StudyRun[]): string[] {
  return GROWTH_SIGNALS.filter((sig) => runs.some((r) => r.digest?.positive.includes(sig) === true));
}

/** Growth rows of one cell: for each signal and each of the cell's own labels, the per-run log-slopes over the last half. */
export function growthOf(cell: Cell, signals: readonly string[]): GrowthRow[] {
  return signals.flatMap((signal) =>
    cell.ownLabels.map((label): GrowthRow => {
      const slopes = (cell.runsByLabel[label] ?? []).flatMap((r) => {
        const slope = r.digest?.growth[signal];
        return typeof slope === 'number' ? [slope] : [];
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

/** One label's runs of a stress cell over time: its median loss curve and (MoE) its balance trace. */
export interface LabelOverTime {
  readonly label: string;
  readonly curve: MedianCurve;
  readonly balance?: BalanceTrace;
}

const finite = (xs: readonly (number | null)[]) => xs.map((x) => x ?? NaN);

/** Per label with records: the median training-loss curve (per curve bucket), and the MoE balance by tenths when `moe`. */
export function overTime(cell: Cell, moe: boolean): LabelOverTime[] {
  return Object.entries(cell.runsByLabel).flatMap(([label, runs]): LabelOverTime[] => {
    const digests = runs.flatMap((r) => (r.digest ? [r.digest] : []));
    if (digests.length === 0) return [];
    const curve: MedianCurve = {
      values: medianPerIndex(digests.map((d) => finite(d.curves.loss?.means ?? []))),
      stepsPerValue: digests[0]!.width,
      diverged: runs.filter((r) => r.summary.diverged).length,
      n: digests.length,
    };
    if (!moe) return [{ label, curve }];
    const trace = (key: (typeof BALANCE_SIGNALS)[number]) => medianPerIndex(digests.map((d) => finite(d.tenths[key] ?? Array<null>(10).fill(null))));
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
