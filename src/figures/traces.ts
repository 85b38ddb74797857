/**
 * From per-step records (or a study run's digest) to the rows a figure plots: a median/IQR band over seeds (downsampled so a
 * 10k-step curve stays a few hundred points), spike events, divergence points, and bootstrap CIs of
 * per-run rates. Pure functions of numbers; no file access.
 */
import { bootstrapDiffCI, quantile } from '../study/stats.js';
import type { StepRecord } from '../train/loop.js';
import { bucketCentre, eventStarts, type RunDigest } from '../study/digest.js';

/** One run's series of one metric, and what happened to the run. */
export interface Trace {
  readonly seed: number;
  /** Steps with a finite value of the metric, ascending. */
  readonly steps: readonly number[];
  readonly values: readonly number[];
  /**
   * First step of each spike event (a run of consecutive flagged steps), the detectors that fired,
   * and the metric's value there (or the last one before it; null when there is none yet).
   */
  readonly spikes: readonly { step: number; detectors: readonly string[]; value: number | null }[];
  /** Step at which the run diverged (its last record), or null. */
  readonly divergedAt: number | null;
  /** The last finite value of the metric (where a divergence marker sits), or null. */
  readonly lastValue: number | null;
}

export type MetricAccessor = (r: StepRecord) => number | null | undefined;

/** Any numeric field of a step record, e.g. 'loss', 'evalLoss', 'maxVio', 'maxAttnLogit'. */
export function field(name: string): MetricAccessor {
  return (r) => {
    const v = (r as unknown as Record<string, unknown>)[name];
    return typeof v === 'number' ? v : null;
  };
}

/**
 * One run's trace of a metric. `diverged` comes from the summary (when there is one): a diverged
 * run's last record is the divergence step, whose loss is not finite.
 */
export function traceOf(seed: number, records: readonly StepRecord[], metric: MetricAccessor, diverged: boolean): Trace {
  const steps: number[] = [];
  const values: number[] = [];
  const spikes: { step: number; detectors: string[]; value: number | null }[] = [];
  let previousFlagged = false;
  for (const r of records) {
    const v = metric(r);
    if (typeof v === 'number' && Number.isFinite(v)) {
      steps.push(r.step);
      values.push(v);
    }
    const flagged = (r.spikes?.length ?? 0) > 0;
    if (flagged && !previousFlagged) spikes.push({ step: r.step, detectors: [...r.spikes!], value: values.at(-1) ?? null });
    previousFlagged = flagged;
  }
  return { seed, steps, values, spikes, divergedAt: diverged ? (records.at(-1)?.step ?? null) : null, lastValue: values.at(-1) ?? null };
}

/**
 * One run's trace of a metric from its digest (study/digest.ts): a point per curve bucket at the
 * mean step of its values, and the spike and divergence markers at the run's own values. Empty
 * when the run did not record the metric.
 */
export function digestTrace(seed: number, digest: RunDigest, name: string, diverged: boolean): Trace {
  const curve = digest.curves[name];
  const steps: number[] = [];
  const values: number[] = [];
  curve?.means.forEach((v, b) => {
    if (v === null) return;
    steps.push(curve.steps?.[b] ?? bucketCentre(b, digest.width, digest.lastStep));
    values.push(v);
  });
  const spikes = eventStarts(digest.flagged).map(([step, detectors], k) => ({ step, detectors, value: curve?.atEvents[k] ?? null }));
  return { seed, steps, values, spikes, divergedAt: diverged ? digest.lastStep : null, lastValue: curve?.last ?? null };
}

export interface BandPoint {
  /** Mean step of the values in this bucket. */
  readonly step: number;
  readonly median: number;
  readonly q1: number;
  readonly q3: number;
  /** Runs with a value in this bucket (the runs still going). */
  readonly n: number;
}

/**
 * Median and IQR over runs, per bucket of steps. With at most `maxPoints` buckets over the longest
 * run, each run is first averaged within the bucket (so every run weighs the same however many
 * of its steps fall in it), then the quantiles are taken over the runs that have a value there.
 * Short or sparse series (evaluations) keep one bucket per distinct step.
 */
export function band(traces: readonly Trace[], maxPoints = 200): BandPoint[] {
  const last = Math.max(0, ...traces.map((t) => t.steps.at(-1) ?? 0));
  if (last === 0) return [];
  const width = Math.max(1, Math.ceil(last / Math.max(1, maxPoints)));
  const buckets = new Map<number, { perRun: number[]; stepSum: number; count: number }>();
  for (const t of traces) {
    const sums = new Map<number, { sum: number; count: number; stepSum: number }>();
    for (let i = 0; i < t.steps.length; i++) {
      const b = Math.floor((t.steps[i]! - 1) / width);
      const s = sums.get(b) ?? { sum: 0, count: 0, stepSum: 0 };
      s.sum += t.values[i]!;
      s.stepSum += t.steps[i]!;
      s.count++;
      sums.set(b, s);
    }
    for (const [b, s] of sums) {
      const bucket = buckets.get(b) ?? { perRun: [], stepSum: 0, count: 0 };
      bucket.perRun.push(s.sum / s.count);
      bucket.stepSum += s.stepSum;
      bucket.count += s.count;
      buckets.set(b, bucket);
    }
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, b]) => ({
      step: b.stepSum / b.count,
      median: quantile(b.perRun, 0.5),
      q1: quantile(b.perRun, 0.25),
      q3: quantile(b.perRun, 0.75),
      n: b.perRun.length,
    }));
}

export interface EventPoint {
  readonly seed: number;
  readonly step: number;
  /** The metric's value at the event (or the last finite value before it, for a divergence). */
  readonly value: number;
  readonly note: string;
}

/** Every spike event of every run, at the run's own value of the metric. */
export function spikeEvents(traces: readonly Trace[]): EventPoint[] {
  return traces.flatMap((t) =>
    t.spikes.flatMap((s) => (s.value === null ? [] : [{ seed: t.seed, step: s.step, value: s.value, note: `spike (${s.detectors.join(', ')})` }])),
  );
}

/** One point per diverged run: its divergence step, at its last finite value. */
export function divergenceEvents(traces: readonly Trace[]): EventPoint[] {
  return traces.flatMap((t) => {
    if (t.divergedAt === null || t.lastValue === null) return [];
    return [{ seed: t.seed, step: t.divergedAt, value: t.lastValue, note: `diverged at step ${t.divergedAt}` }];
  });
}

export interface RateCI {
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  readonly n: number;
}

/**
 * Mean of per-run values with a seeded percentile-bootstrap 95% CI (the same bootstrap as the
 * report's differences, docs/references.md#fair-comparison: the CI of mean(xs) − mean([0]) is the CI of the mean).
 */
export function meanWithCI(xs: readonly number[], seed: number, resamples = 10_000): RateCI | null {
  if (xs.length === 0) return null;
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const ci = bootstrapDiffCI(xs, [0], { statistic: mean, resamples, seed });
  return { mean: ci.estimate, lo: ci.lo, hi: ci.hi, n: xs.length };
}

/** Round to `digits` significant digits: figures need no more, and the HTML page stays small. */
export function round(x: number, digits = 4): number {
  return Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(digits)) : x;
}
